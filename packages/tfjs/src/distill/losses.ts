import * as tf from '@tensorflow/tfjs-core';

/**
 * Hinton et al.'s soft loss, unscaled: the batch mean of KL(softmax(t / T) || softmax(s / T)).
 * KL differs from the paper's cross-entropy with soft targets by the teacher's entropy, a
 * constant: the gradients are the same and the loss is 0 when the student matches the teacher.
 */
export function softTargetLoss(studentLogits: tf.Tensor, teacherLogits: tf.Tensor, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const logP = tf.logSoftmax(tf.div(teacherLogits, temperature));
    const logQ = tf.logSoftmax(tf.div(studentLogits, temperature));
    return tf.mean(tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), -1)) as tf.Scalar;
  });
}

/**
 * The distillation term the KD contribution adds: alpha * T^2 * soft. The soft gradients scale
 * as 1/T^2, so the T^2 keeps their size when T changes (Hinton et al. section 2). The task
 * cross-entropy gets the weight 1 - alpha from the trainer.
 */
export function kdLoss(studentLogits: tf.Tensor, teacherLogits: tf.Tensor, o: { temperature: number; alpha: number }): tf.Scalar {
  return tf.tidy(() => tf.mul(softTargetLoss(studentLogits, teacherLogits, o.temperature), o.alpha * o.temperature * o.temperature) as tf.Scalar);
}

/** FitNets hint: mean squared difference between the (adapted) student feature and the teacher's. */
export function hintLoss(student: tf.Tensor, teacher: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.squaredDifference(student, teacher)) as tf.Scalar);
}
