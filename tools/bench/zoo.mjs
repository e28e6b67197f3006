// The networks the benchmarks train and time, by the name benchmarks, checkpoints and peers use.
// Peers (tools/bench/peers/*.py) build the same architectures under the same names.
import { lenet300100, lenet5, mobilenetV2Small, resnet20 } from '@condense/ir';

export const ZOO = {
  lenet300100: { title: 'LeNet-300-100', make: (seed) => lenet300100(seed) },
  lenet5: { title: 'LeNet-5', make: (seed) => lenet5(seed) },
  resnet20: { title: 'ResNet-20', make: (seed) => resnet20(seed) },
  mobilenetv2: { title: 'MobileNetV2 (width 0.5)', make: (seed) => mobilenetV2Small(seed, { width: 0.5 }) },
};
