import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StageGraphError, stagesToBuild, type StageNode } from '../../builder/stage-graph.js';

const stage = (index: number, name: string | undefined, ...references: string[]): StageNode => ({ index, name, references });
const indexes = (stages: StageNode[]) => stages.map((s) => s.index);

test('only the stages the target needs are built, dependencies first', () => {
  const stages = [stage(0, 'deps', 'alpine'), stage(1, 'unused', 'alpine'), stage(2, 'build', 'deps'), stage(3, undefined, 'scratch', 'build', '0')];
  assert.deepEqual(indexes(stagesToBuild(stages, undefined)), [0, 2, 3]);
  assert.deepEqual(indexes(stagesToBuild(stages, 'unused')), [1]);
  assert.deepEqual(indexes(stagesToBuild(stages, 'BUILD')), [0, 2]);
});

test('a stage named like its base image builds on the image', () => {
  assert.deepEqual(indexes(stagesToBuild([stage(0, 'golang', 'golang')], undefined)), [0]);
});

test('an unknown target, a forward index and a cycle are errors', () => {
  assert.throws(() => stagesToBuild([stage(0, 'a', 'alpine')], 'nope'), /target stage "nope" could not be found/);
  assert.throws(() => stagesToBuild([stage(0, 'a', 'scratch', '1'), stage(1, 'b', 'scratch')], 'a'), StageGraphError);
  assert.throws(() => stagesToBuild([stage(0, 'a', 'b'), stage(1, 'b', 'a')], 'b'), /cycle: b -> a -> b/);
  assert.throws(() => stagesToBuild([], undefined), /no FROM/);
});
