/** Every op family of the IR; importing this module registers them. */
import './builtin.js';
import './convolution.js';
import './pooling.js';
import './reshaping.js';
import './merge.js';
import './normalization.js';
import './prelu.js';
import './embedding.js';
import './recurrent.js';
// The ops imported graph models add: constants, identities, unfused arithmetic, spatial rearrangements.
import './constant.js';
import './identity.js';
import './bias-add.js';
import './binary-const.js';
import './pad2d.js';
import './resize2d.js';
import './depth-to-space.js';
