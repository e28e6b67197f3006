// tfjs-core registers its gradient functions only through a side-effect module that plain Node
// cannot deep-import (ESM files in a CommonJS package). tfjs-layers registers them in both its
// Node and ESM builds, so importing it makes every builtin kernel differentiable.
import '@tensorflow/tfjs-layers';
