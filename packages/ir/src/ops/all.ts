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
