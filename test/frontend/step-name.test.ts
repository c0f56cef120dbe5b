import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandStepName, lookupFrom } from '../../builder/frontend/index.js';

// What the engine's BuildKit showed for these lines with X=ex and Y=why set.
test('step names expand set variables, keep quotes and unset variables, as BuildKit shows them', () => {
  const lookup = lookupFrom({ X: 'ex', Y: 'why' });
  assert.equal(expandStepName(`RUN echo 'single $X' "double $X" \\$X \${Y} $UNSET end`, lookup), `RUN echo 'single $X' "double ex" $X why $UNSET end`);
  assert.equal(expandStepName('RUN echo "a   b" && echo a\\ b', lookup), 'RUN echo "a   b" && echo a b');
  assert.equal(expandStepName('copy Dockerfile /$Y/', lookup), 'COPY Dockerfile /why/');
  assert.equal(expandStepName('RUN echo "unclosed', lookup), 'RUN echo "unclosed');
});
