// The Dockerfile front end: what the builder core imports.

export { parseDockerfile, parseOnbuildTrigger } from './parse.js';
export { expandWord, expandWords, expandWordWithMatches, expandHeredocBody, expandStepName, expandInstruction, lookupFrom, type EnvLookup } from './expand.js';
export { runHeredocPlan, HEREDOC_SCRIPT_DIR, type RunHeredocPlan } from './run-heredoc.js';
export { parseRunMount, type RunMount, type BindMount, type CacheMount, type TmpfsMount, type SecretMount } from './run-mount.js';
export { DockerIgnore, dockerignoreFor } from './dockerignore.js';
export { DockerfileSyntaxError, ExpansionError } from './errors.js';
export type * from './instructions.js';
