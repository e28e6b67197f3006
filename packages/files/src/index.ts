export { FileError, errnoOf, fileError } from './errors.js';
export { cleanStaleTemps, tempOwner, tempPath } from './temp.js';
export { commitStage, exists, makeStage, replaceDir, writeFileAtomic, type CommitOptions } from './write.js';
export { confinedPathProblem, isWithin, realPathOf, resolveInside } from './paths.js';
export { readBounded, readInto, readTextBounded, regularFileSize, type ReadLimits } from './read.js';
export { MAX_JSON_DEPTH, MAX_JSON_NODES, parseBoundedJson, treeProblem, type TreeLimits } from './json.js';
