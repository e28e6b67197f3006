const CH = 128;
function current(pt, k, h) {
  for (let a = 0; a < k; a++) {
    const ra = a * CH, ha = a * k;
    let b = a;
    for (; b + 3 < k; b += 4) {
      const r0 = b * CH, r1 = r0 + CH, r2 = r1 + CH, r3 = r2 + CH;
      let d0 = 0, d1 = 0, d2 = 0, d3 = 0;
      for (let r = 0; r < CH; r++) { const x = pt[ra + r]; d0 += x * pt[r0 + r]; d1 += x * pt[r1 + r]; d2 += x * pt[r2 + r]; d3 += x * pt[r3 + r]; }
      h[ha + b] += d0; h[ha + b + 1] += d1; h[ha + b + 2] += d2; h[ha + b + 3] += d3;
    }
    for (; b < k; b++) { let d = 0; const rb = b * CH; for (let r = 0; r < CH; r++) d += pt[ra + r] * pt[rb + r]; h[ha + b] += d; }
  }
}
function block2x4(pt, k, h) {
  let a = 0;
  for (; a + 1 < k; a += 2) {
    const ra = a * CH, rc = ra + CH, ha = a * k, hc = ha + k;
    // diagonal-ish: columns from a
    let b = a;
    for (; b + 3 < k; b += 4) {
      const r0 = b * CH, r1 = r0 + CH, r2 = r1 + CH, r3 = r2 + CH;
      let d0 = 0, d1 = 0, d2 = 0, d3 = 0, e0 = 0, e1 = 0, e2 = 0, e3 = 0;
      for (let r = 0; r < CH; r++) {
        const x = pt[ra + r], y = pt[rc + r];
        const p0 = pt[r0 + r], p1 = pt[r1 + r], p2 = pt[r2 + r], p3 = pt[r3 + r];
        d0 += x * p0; d1 += x * p1; d2 += x * p2; d3 += x * p3;
        e0 += y * p0; e1 += y * p1; e2 += y * p2; e3 += y * p3;
      }
      h[ha + b] += d0; h[ha + b + 1] += d1; h[ha + b + 2] += d2; h[ha + b + 3] += d3;
      h[hc + b] += e0; h[hc + b + 1] += e1; h[hc + b + 2] += e2; h[hc + b + 3] += e3;
    }
    for (; b < k; b++) { let d = 0, e = 0; const rb = b * CH; for (let r = 0; r < CH; r++) { const q = pt[rb + r]; d += pt[ra + r] * q; e += pt[rc + r] * q; } h[ha + b] += d; h[hc + b] += e; }
  }
  for (; a < k; a++) { const ra = a * CH; for (let b = a; b < k; b++) { let d = 0; const rb = b * CH; for (let r = 0; r < CH; r++) d += pt[ra + r] * pt[rb + r]; h[a * k + b] += d; } }
}
function block4x4(pt, k, h) {
  let a = 0;
  for (; a + 3 < k; a += 4) {
    const A0 = a * CH, A1 = A0 + CH, A2 = A1 + CH, A3 = A2 + CH;
    let b = a;
    for (; b + 3 < k; b += 4) {
      const B0 = b * CH, B1 = B0 + CH, B2 = B1 + CH, B3 = B2 + CH;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0, s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let r = 0; r < CH; r++) {
        const x0 = pt[A0 + r], x1 = pt[A1 + r], x2 = pt[A2 + r], x3 = pt[A3 + r];
        const y0 = pt[B0 + r], y1 = pt[B1 + r], y2 = pt[B2 + r], y3 = pt[B3 + r];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
        s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
      }
      let o = a * k + b;
      h[o] += s00; h[o + 1] += s01; h[o + 2] += s02; h[o + 3] += s03; o += k;
      h[o] += s10; h[o + 1] += s11; h[o + 2] += s12; h[o + 3] += s13; o += k;
      h[o] += s20; h[o + 1] += s21; h[o + 2] += s22; h[o + 3] += s23; o += k;
      h[o] += s30; h[o + 1] += s31; h[o + 2] += s32; h[o + 3] += s33;
    }
  }
}
for (const Arr of [Float64Array, Float32Array]) for (const k of [288, 1344]) {
  const pt = Arr.from({ length: k * CH }, Math.random);
  for (const [name, f] of [['current', current], ['2x4', block2x4], ['4x4', block4x4]]) {
    const h = new Float64Array(k * k);
    f(pt, k, h);
    const reps = k < 500 ? 40 : 3;
    const t = performance.now();
    for (let i = 0; i < reps; i++) f(pt, k, h);
    const s = (performance.now() - t) / 1000;
    console.log(Arr.name, k, name, ((reps * CH * k * k) / 2 / s / 1e9).toFixed(2), 'G/s');
  }
}
