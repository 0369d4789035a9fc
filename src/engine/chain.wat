;; The engine's H×H matrix-vector product, for a row-major M (M[i][j] at m + 4·(i·H + j)):
;;   out[j] = start[j] + Σ_{i=0..H-1} M[i][j] · v[i]
;; accumulated in float32 in order i, each multiply and each add rounded to
;; float32 (f32x4.mul and f32x4.add round every lane; no fused multiply-add).
;; Lanes are different j, so the order over i is the same for every j.
;; start[j] is 0 when $accumulate is 0, else out[j] as it was before the call.
;; The backward chain (spec, step 4) is M = Wh, v = scaled, from 0; the forward
;; pass is M = Whᵀ, v = h_{t-1}, from bh + Wx[:, x_t].
(module
  (memory (export "memory") 1)
  (func $product (export "product") (param $m i32) (param $v i32) (param $out i32) (param $H i32) (param $accumulate i32)
    (local $j i32) (local $i i32) (local $p i32) (local $sp i32) (local $stride i32)
    (local $s v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $acc f32)
    (local.set $stride (i32.shl (local.get $H) (i32.const 2)))
    ;; Columns in blocks of 16: four vector accumulators stay in registers over i.
    (block $done16
      (loop $block16
        (br_if $done16 (i32.gt_s (i32.add (local.get $j) (i32.const 16)) (local.get $H)))
        (local.set $p (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2))))
        (if (local.get $accumulate)
          (then
            (local.set $a0 (v128.load offset=0 (local.get $p)))
            (local.set $a1 (v128.load offset=16 (local.get $p)))
            (local.set $a2 (v128.load offset=32 (local.get $p)))
            (local.set $a3 (v128.load offset=48 (local.get $p))))
          (else
            (local.set $a0 (v128.const f32x4 0 0 0 0))
            (local.set $a1 (v128.const f32x4 0 0 0 0))
            (local.set $a2 (v128.const f32x4 0 0 0 0))
            (local.set $a3 (v128.const f32x4 0 0 0 0))))
        (local.set $p (i32.add (local.get $m) (i32.shl (local.get $j) (i32.const 2))))
        (local.set $sp (local.get $v))
        (local.set $i (local.get $H))
        (loop $rows
          (local.set $s (f32x4.splat (f32.load (local.get $sp))))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load offset=0 (local.get $p)) (local.get $s))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $p)) (local.get $s))))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (local.get $p)) (local.get $s))))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load offset=48 (local.get $p)) (local.get $s))))
          (local.set $p (i32.add (local.get $p) (local.get $stride)))
          (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (br_if $rows (local.get $i)))
        (local.set $p (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2))))
        (v128.store offset=0 (local.get $p) (local.get $a0))
        (v128.store offset=16 (local.get $p) (local.get $a1))
        (v128.store offset=32 (local.get $p) (local.get $a2))
        (v128.store offset=48 (local.get $p) (local.get $a3))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $block16)))
    ;; Remaining columns in blocks of 4.
    (block $done4
      (loop $block4
        (br_if $done4 (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $H)))
        (local.set $a0 (v128.const f32x4 0 0 0 0))
        (if (local.get $accumulate)
          (then (local.set $a0 (v128.load (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2)))))))
        (local.set $p (i32.add (local.get $m) (i32.shl (local.get $j) (i32.const 2))))
        (local.set $sp (local.get $v))
        (local.set $i (local.get $H))
        (loop $rows4
          (local.set $a0 (f32x4.add (local.get $a0)
            (f32x4.mul (v128.load (local.get $p)) (f32x4.splat (f32.load (local.get $sp))))))
          (local.set $p (i32.add (local.get $p) (local.get $stride)))
          (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (br_if $rows4 (local.get $i)))
        (v128.store (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2))) (local.get $a0))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $block4)))
    ;; Last columns one at a time.
    (block $done1
      (loop $block1
        (br_if $done1 (i32.ge_s (local.get $j) (local.get $H)))
        (local.set $acc (f32.const 0))
        (if (local.get $accumulate)
          (then (local.set $acc (f32.load (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2)))))))
        (local.set $p (i32.add (local.get $m) (i32.shl (local.get $j) (i32.const 2))))
        (local.set $sp (local.get $v))
        (local.set $i (local.get $H))
        (loop $rows1
          (local.set $acc (f32.add (local.get $acc) (f32.mul (f32.load (local.get $p)) (f32.load (local.get $sp)))))
          (local.set $p (i32.add (local.get $p) (local.get $stride)))
          (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (br_if $rows1 (local.get $i)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2))) (local.get $acc))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $block1))))
  ;; fdlibm expm1f and tanhf (SunPro, as in glibc ≤ 2.40, FreeBSD msun, newlib),
  ;; branch for branch, in float32: the same operations as src/engine/tanhf.ts,
  ;; where every one is rounded to float32 by Math.fround.
  (func $expm1f (param $x f32) (result f32)
    (local $hx i32) (local $negative i32) (local $hi f32) (local $lo f32) (local $k i32) (local $c f32)
    (local $t f32) (local $hfx f32) (local $hxs f32) (local $r1 f32) (local $t3 f32) (local $e f32) (local $y f32)
    (local.set $hx (i32.reinterpret_f32 (local.get $x)))
    (local.set $negative (i32.lt_s (local.get $hx) (i32.const 0)))
    (local.set $hx (i32.and (local.get $hx) (i32.const 0x7fffffff)))
    ;; huge and non-finite arguments: |x| >= 27 ln2
    (if (i32.ge_u (local.get $hx) (i32.const 0x4195b844))
      (then
        (if (i32.ge_u (local.get $hx) (i32.const 0x42b17218))
          (then
            (if (i32.gt_u (local.get $hx) (i32.const 0x7f800000))
              (then (return (f32.add (local.get $x) (local.get $x)))))
            (if (i32.eq (local.get $hx) (i32.const 0x7f800000))
              (then (return (select (f32.const -1) (local.get $x) (local.get $negative)))))
            (if (f32.gt (local.get $x) (f32.reinterpret_i32 (i32.const 0x42b17180)))
              (then (return (f32.const inf))))))
        (if (local.get $negative)
          (then (return (f32.sub (f32.const 1.0e-30) (f32.const 1)))))))
    (if (i32.gt_u (local.get $hx) (i32.const 0x3eb17218))
      (then
        ;; |x| > 0.5 ln2: argument reduction
        (if (i32.lt_u (local.get $hx) (i32.const 0x3f851592))
          (then
            (if (i32.eqz (local.get $negative))
              (then
                (local.set $hi (f32.sub (local.get $x) (f32.reinterpret_i32 (i32.const 0x3f317180))))
                (local.set $lo (f32.reinterpret_i32 (i32.const 0x3717f7d1)))
                (local.set $k (i32.const 1)))
              (else
                (local.set $hi (f32.add (local.get $x) (f32.reinterpret_i32 (i32.const 0x3f317180))))
                (local.set $lo (f32.neg (f32.reinterpret_i32 (i32.const 0x3717f7d1))))
                (local.set $k (i32.const -1)))))
          (else
            ;; C converts the float to int by truncation toward zero
            (local.set $k (i32.trunc_f32_s (f32.add
              (f32.mul (f32.reinterpret_i32 (i32.const 0x3fb8aa3b)) (local.get $x))
              (select (f32.const -0.5) (f32.const 0.5) (local.get $negative)))))
            (local.set $t (f32.convert_i32_s (local.get $k)))
            (local.set $hi (f32.sub (local.get $x) (f32.mul (local.get $t) (f32.reinterpret_i32 (i32.const 0x3f317180)))))
            (local.set $lo (f32.mul (local.get $t) (f32.reinterpret_i32 (i32.const 0x3717f7d1))))))
        (local.set $x (f32.sub (local.get $hi) (local.get $lo)))
        (local.set $c (f32.sub (f32.sub (local.get $hi) (local.get $x)) (local.get $lo))))
      (else
        (if (i32.lt_u (local.get $hx) (i32.const 0x33000000))
          (then
            ;; |x| < 2^-25: the result is x itself
            (local.set $t (f32.add (f32.const 1.0e30) (local.get $x)))
            (return (f32.sub (local.get $x) (f32.sub (local.get $t) (f32.add (f32.const 1.0e30) (local.get $x)))))))
        (local.set $k (i32.const 0))))
    ;; x is now in the primary range
    (local.set $hfx (f32.mul (f32.const 0.5) (local.get $x)))
    (local.set $hxs (f32.mul (local.get $x) (local.get $hfx)))
    (local.set $r1 (f32.add (f32.const 1) (f32.mul (local.get $hxs)
      (f32.add (f32.reinterpret_i32 (i32.const 0xbd088889)) (f32.mul (local.get $hxs)
        (f32.add (f32.reinterpret_i32 (i32.const 0x3ad00d01)) (f32.mul (local.get $hxs)
          (f32.add (f32.reinterpret_i32 (i32.const 0xb8a670cd)) (f32.mul (local.get $hxs)
            (f32.add (f32.reinterpret_i32 (i32.const 0x36867e54)) (f32.mul (local.get $hxs)
              (f32.reinterpret_i32 (i32.const 0xb457edbb)))))))))))))
    (local.set $t3 (f32.sub (f32.const 3) (f32.mul (local.get $r1) (local.get $hfx))))
    (local.set $e (f32.mul (local.get $hxs) (f32.div (f32.sub (local.get $r1) (local.get $t3))
      (f32.sub (f32.const 6) (f32.mul (local.get $x) (local.get $t3))))))
    (if (i32.eqz (local.get $k))
      (then (return (f32.sub (local.get $x) (f32.sub (f32.mul (local.get $x) (local.get $e)) (local.get $hxs))))))
    (local.set $e (f32.sub (f32.mul (local.get $x) (f32.sub (local.get $e) (local.get $c))) (local.get $c)))
    (local.set $e (f32.sub (local.get $e) (local.get $hxs)))
    (if (i32.eq (local.get $k) (i32.const -1))
      (then (return (f32.sub (f32.mul (f32.const 0.5) (f32.sub (local.get $x) (local.get $e))) (f32.const 0.5)))))
    (if (i32.eq (local.get $k) (i32.const 1))
      (then
        (if (f32.lt (local.get $x) (f32.const -0.25))
          (then (return (f32.mul (f32.const -2) (f32.sub (local.get $e) (f32.add (local.get $x) (f32.const 0.5)))))))
        (return (f32.add (f32.const 1) (f32.mul (f32.const 2) (f32.sub (local.get $x) (local.get $e)))))))
    (if (i32.or (i32.le_s (local.get $k) (i32.const -2)) (i32.gt_s (local.get $k) (i32.const 56)))
      (then
        ;; exp(x) - 1 is exp(x) to float precision: scale 1 - (e - x) by 2^k
        (local.set $y (f32.sub (f32.const 1) (f32.sub (local.get $e) (local.get $x))))
        (local.set $y (f32.reinterpret_i32 (i32.add (i32.reinterpret_f32 (local.get $y)) (i32.shl (local.get $k) (i32.const 23)))))
        (return (f32.sub (local.get $y) (f32.const 1)))))
    (if (i32.lt_s (local.get $k) (i32.const 23))
      (then
        ;; t = 1 - 2^-k
        (local.set $t (f32.reinterpret_i32 (i32.sub (i32.const 0x3f800000) (i32.shr_s (i32.const 0x1000000) (local.get $k)))))
        (local.set $y (f32.sub (local.get $t) (f32.sub (local.get $e) (local.get $x)))))
      (else
        ;; t = 2^-k
        (local.set $t (f32.reinterpret_i32 (i32.shl (i32.sub (i32.const 0x7f) (local.get $k)) (i32.const 23))))
        (local.set $y (f32.sub (local.get $x) (f32.add (local.get $e) (local.get $t))))
        (local.set $y (f32.add (local.get $y) (f32.const 1)))))
    (f32.reinterpret_i32 (i32.add (i32.reinterpret_f32 (local.get $y)) (i32.shl (local.get $k) (i32.const 23)))))

  (func $tanhf (export "tanhf") (param $x f32) (result f32)
    (local $jx i32) (local $ix i32) (local $t f32) (local $z f32)
    (local.set $jx (i32.reinterpret_f32 (local.get $x)))
    (local.set $ix (i32.and (local.get $jx) (i32.const 0x7fffffff)))
    (if (i32.ge_u (local.get $ix) (i32.const 0x7f800000))
      (then
        ;; tanh(±inf) = ±1, tanh(NaN) = NaN
        (return (select
          (f32.add (f32.div (f32.const 1) (local.get $x)) (f32.const 1))
          (f32.sub (f32.div (f32.const 1) (local.get $x)) (f32.const 1))
          (i32.ge_s (local.get $jx) (i32.const 0))))))
    (if (i32.lt_u (local.get $ix) (i32.const 0x41b00000))
      (then
        ;; |x| < 22
        (if (i32.eqz (local.get $ix)) (then (return (local.get $x))))
        (if (i32.lt_u (local.get $ix) (i32.const 0x24000000))
          (then (return (f32.mul (local.get $x) (f32.add (f32.const 1) (local.get $x))))))
        (if (i32.ge_u (local.get $ix) (i32.const 0x3f800000))
          (then
            (local.set $t (call $expm1f (f32.mul (f32.const 2) (f32.abs (local.get $x)))))
            (local.set $z (f32.sub (f32.const 1) (f32.div (f32.const 2) (f32.add (local.get $t) (f32.const 2))))))
          (else
            (local.set $t (call $expm1f (f32.mul (f32.const -2) (f32.abs (local.get $x)))))
            (local.set $z (f32.div (f32.neg (local.get $t)) (f32.add (local.get $t) (f32.const 2)))))))
      (else
        ;; |x| >= 22: ±1
        (local.set $z (f32.sub (f32.const 1) (f32.const 1.0e-30)))))
    (select (local.get $z) (f32.neg (local.get $z)) (i32.ge_s (local.get $jx) (i32.const 0))))

  ;; tanhf of four lanes at once: in each lane exactly the operations $tanhf and
  ;; $expm1f above perform for that lane's value (every branch is computed and
  ;; the lane's own is selected; f32x4 arithmetic rounds as f32 does). Only the
  ;; paths $tanhf can reach are here: it calls expm1f with 2|x| in [2, 44) or
  ;; -2|x| in (-2, 0), so expm1f's huge and non-finite branches and k = 1 never
  ;; occur (k is 0 or -1 below 1.5 ln2, else -2, -3, or 3 to 63). Checked against
  ;; $tanhf on every float32 (see test/engine.test.ts for the sampled check CI runs).
  (func $tanhf4 (param $x v128) (result v128)
    (local $ix v128) (local $big v128) (local $arg v128) (local $hx v128) (local $neg v128)
    (local $reduce v128) (local $near v128) (local $k v128) (local $kf v128) (local $t v128)
    (local $hi v128) (local $lo v128) (local $xr v128) (local $c v128)
    (local $hfx v128) (local $hxs v128) (local $r1 v128) (local $t3 v128) (local $e v128) (local $e2 v128)
    (local $shift v128) (local $twoNegK v128) (local $y v128) (local $m v128) (local $z v128)
    (local.set $ix (v128.and (local.get $x) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
    ;; |x| >= 1: expm1f(2|x|), else expm1f(-2|x|)
    (local.set $big (i32x4.ge_u (local.get $ix) (v128.const i32x4 0x3f800000 0x3f800000 0x3f800000 0x3f800000)))
    (local.set $arg (v128.bitselect
      (f32x4.mul (v128.const f32x4 2 2 2 2) (f32x4.abs (local.get $x)))
      (f32x4.mul (v128.const f32x4 -2 -2 -2 -2) (f32x4.abs (local.get $x)))
      (local.get $big)))
    ;; expm1f(arg)
    (local.set $hx (v128.and (local.get $arg) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
    (local.set $neg (i32x4.lt_s (local.get $arg) (v128.const i32x4 0 0 0 0)))
    (local.set $reduce (i32x4.gt_u (local.get $hx) (v128.const i32x4 0x3eb17218 0x3eb17218 0x3eb17218 0x3eb17218)))
    (local.set $near (i32x4.lt_u (local.get $hx) (v128.const i32x4 0x3f851592 0x3f851592 0x3f851592 0x3f851592)))
    ;; 0.5 ln2 < |arg| < 1.5 ln2: k = ±1, hi = arg ∓ ln2_hi, lo = ±ln2_lo
    ;; else: k = (int)(invln2·arg ± 0.5), hi = arg - k·ln2_hi, lo = k·ln2_lo
    (local.set $kf (i32x4.trunc_sat_f32x4_s (f32x4.add
      (f32x4.mul (v128.const i32x4 0x3fb8aa3b 0x3fb8aa3b 0x3fb8aa3b 0x3fb8aa3b) (local.get $arg))
      (v128.bitselect (v128.const f32x4 -0.5 -0.5 -0.5 -0.5) (v128.const f32x4 0.5 0.5 0.5 0.5) (local.get $neg)))))
    (local.set $t (f32x4.convert_i32x4_s (local.get $kf)))
    (local.set $hi (v128.bitselect
      (v128.bitselect
        (f32x4.add (local.get $arg) (v128.const i32x4 0x3f317180 0x3f317180 0x3f317180 0x3f317180))
        (f32x4.sub (local.get $arg) (v128.const i32x4 0x3f317180 0x3f317180 0x3f317180 0x3f317180))
        (local.get $neg))
      (f32x4.sub (local.get $arg) (f32x4.mul (local.get $t) (v128.const i32x4 0x3f317180 0x3f317180 0x3f317180 0x3f317180)))
      (local.get $near)))
    (local.set $lo (v128.bitselect
      (v128.bitselect
        (v128.const i32x4 0xb717f7d1 0xb717f7d1 0xb717f7d1 0xb717f7d1)
        (v128.const i32x4 0x3717f7d1 0x3717f7d1 0x3717f7d1 0x3717f7d1)
        (local.get $neg))
      (f32x4.mul (local.get $t) (v128.const i32x4 0x3717f7d1 0x3717f7d1 0x3717f7d1 0x3717f7d1))
      (local.get $near)))
    (local.set $k (v128.and (local.get $reduce) (v128.bitselect
      (v128.bitselect (v128.const i32x4 -1 -1 -1 -1) (v128.const i32x4 1 1 1 1) (local.get $neg))
      (local.get $kf)
      (local.get $near))))
    (local.set $xr (f32x4.sub (local.get $hi) (local.get $lo)))
    (local.set $c (f32x4.sub (f32x4.sub (local.get $hi) (local.get $xr)) (local.get $lo)))
    (local.set $xr (v128.bitselect (local.get $xr) (local.get $arg) (local.get $reduce)))
    ;; the primary range
    (local.set $hfx (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (local.get $xr)))
    (local.set $hxs (f32x4.mul (local.get $xr) (local.get $hfx)))
    (local.set $r1 (f32x4.add (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $hxs)
      (f32x4.add (v128.const i32x4 0xbd088889 0xbd088889 0xbd088889 0xbd088889) (f32x4.mul (local.get $hxs)
        (f32x4.add (v128.const i32x4 0x3ad00d01 0x3ad00d01 0x3ad00d01 0x3ad00d01) (f32x4.mul (local.get $hxs)
          (f32x4.add (v128.const i32x4 0xb8a670cd 0xb8a670cd 0xb8a670cd 0xb8a670cd) (f32x4.mul (local.get $hxs)
            (f32x4.add (v128.const i32x4 0x36867e54 0x36867e54 0x36867e54 0x36867e54) (f32x4.mul (local.get $hxs)
              (v128.const i32x4 0xb457edbb 0xb457edbb 0xb457edbb 0xb457edbb))))))))))))
    (local.set $t3 (f32x4.sub (v128.const f32x4 3 3 3 3) (f32x4.mul (local.get $r1) (local.get $hfx))))
    (local.set $e (f32x4.mul (local.get $hxs) (f32x4.div (f32x4.sub (local.get $r1) (local.get $t3))
      (f32x4.sub (v128.const f32x4 6 6 6 6) (f32x4.mul (local.get $xr) (local.get $t3))))))
    (local.set $e2 (f32x4.sub
      (f32x4.sub (f32x4.mul (local.get $xr) (f32x4.sub (local.get $e) (local.get $c))) (local.get $c))
      (local.get $hxs)))
    (local.set $shift (i32x4.mul (local.get $k) (v128.const i32x4 0x800000 0x800000 0x800000 0x800000)))
    (local.set $twoNegK (i32x4.mul (i32x4.sub (v128.const i32x4 0x7f 0x7f 0x7f 0x7f) (local.get $k))
      (v128.const i32x4 0x800000 0x800000 0x800000 0x800000)))
    ;; 23 <= k <= 56: y = (x - (e + 2^-k)) + 1, scaled by 2^k
    (local.set $y (i32x4.add (local.get $shift) (f32x4.add
      (f32x4.sub (local.get $xr) (f32x4.add (local.get $e2) (local.get $twoNegK)))
      (v128.const f32x4 1 1 1 1))))
    ;; 2 <= k < 23: y = (1 - 2^-k) - (e - x), scaled by 2^k
    (local.set $m (i32x4.lt_s (local.get $k) (v128.const i32x4 23 23 23 23)))
    (local.set $y (v128.bitselect
      (i32x4.add (local.get $shift) (f32x4.sub
        (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $twoNegK))
        (f32x4.sub (local.get $e2) (local.get $xr))))
      (local.get $y)
      (local.get $m)))
    ;; k <= -2 or k > 56: (1 - (e - x)) scaled by 2^k, minus 1
    (local.set $m (v128.or
      (i32x4.le_s (local.get $k) (v128.const i32x4 -2 -2 -2 -2))
      (i32x4.gt_s (local.get $k) (v128.const i32x4 56 56 56 56))))
    (local.set $y (v128.bitselect
      (f32x4.sub
        (i32x4.add (local.get $shift) (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.sub (local.get $e2) (local.get $xr))))
        (v128.const f32x4 1 1 1 1))
      (local.get $y)
      (local.get $m)))
    ;; k = -1: 0.5·(x - e) - 0.5
    (local.set $y (v128.bitselect
      (f32x4.sub (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.sub (local.get $xr) (local.get $e2))) (v128.const f32x4 0.5 0.5 0.5 0.5))
      (local.get $y)
      (i32x4.eq (local.get $k) (v128.const i32x4 -1 -1 -1 -1))))
    ;; k = 0: x - (x·e - hxs), or x itself where |x| < 2^-25
    (local.set $y (v128.bitselect
      (v128.bitselect
        (local.get $arg)
        (f32x4.sub (local.get $xr) (f32x4.sub (f32x4.mul (local.get $xr) (local.get $e)) (local.get $hxs)))
        (i32x4.lt_u (local.get $hx) (v128.const i32x4 0x33000000 0x33000000 0x33000000 0x33000000)))
      (local.get $y)
      (i32x4.eq (local.get $k) (v128.const i32x4 0 0 0 0))))
    ;; tanhf from t = expm1f(arg): |x| >= 1: 1 - 2/(t + 2); else -t/(t + 2) (one division for both)
    (local.set $z (f32x4.div
      (v128.bitselect (v128.const f32x4 2 2 2 2) (f32x4.neg (local.get $y)) (local.get $big))
      (f32x4.add (local.get $y) (v128.const f32x4 2 2 2 2))))
    (local.set $z (v128.bitselect (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $z)) (local.get $z) (local.get $big)))
    ;; |x| >= 22: 1 - tiny
    (local.set $z (v128.bitselect
      (local.get $z)
      (f32x4.sub (v128.const f32x4 1 1 1 1) (v128.const f32x4 1.0e-30 1.0e-30 1.0e-30 1.0e-30))
      (i32x4.lt_u (local.get $ix) (v128.const i32x4 0x41b00000 0x41b00000 0x41b00000 0x41b00000))))
    (local.set $z (v128.bitselect (local.get $z) (f32x4.neg (local.get $z))
      (i32x4.ge_s (local.get $x) (v128.const i32x4 0 0 0 0))))
    ;; |x| < 2^-55: x·(1 + x); ±0: x
    (local.set $z (v128.bitselect
      (f32x4.mul (local.get $x) (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $x)))
      (local.get $z)
      (i32x4.lt_u (local.get $ix) (v128.const i32x4 0x24000000 0x24000000 0x24000000 0x24000000))))
    (local.set $z (v128.bitselect (local.get $x) (local.get $z)
      (i32x4.eq (local.get $ix) (v128.const i32x4 0 0 0 0))))
    ;; ±inf: 1/x ± 1; NaN: NaN
    (local.set $t (f32x4.div (v128.const f32x4 1 1 1 1) (local.get $x)))
    (v128.bitselect
      (v128.bitselect
        (f32x4.add (local.get $t) (v128.const f32x4 1 1 1 1))
        (f32x4.sub (local.get $t) (v128.const f32x4 1 1 1 1))
        (i32x4.ge_s (local.get $x) (v128.const i32x4 0 0 0 0)))
      (local.get $z)
      (i32x4.ge_u (local.get $ix) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))))

  ;; v[i] = tanhf(out[i]) for i < n: four at a time, then one at a time.
  (func $tanhRow (export "tanhRow") (param $out i32) (param $v i32) (param $n i32)
    (local $i i32) (local $at i32)
    (block $quadsDone
      (loop $quads
        (br_if $quadsDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
        (local.set $at (i32.shl (local.get $i) (i32.const 2)))
        (v128.store (i32.add (local.get $v) (local.get $at)) (call $tanhf4 (v128.load (i32.add (local.get $out) (local.get $at)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $quads)))
    (block $done
      (loop $lanes
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (f32.store (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 2)))
          (call $tanhf (f32.load (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $lanes))))

  ;; The forward pass (spec, "Forward pass") for n bytes at $bytes, into n rows
  ;; of H floats at $states: s = bh[i] + Wx[i][x_t] (float32), then the product
  ;; above on M = Whᵀ adds Wh[i][j]·h_{t-1}[j] in order j, then h_t[i] = tanhf(s).
  ;; $wx holds Wx[i][c] at c·H + i; $v starts as h_{-1} (zeros) and ends as h_{n-1}.
  (func (export "forward") (param $v i32) (param $out i32) (param $H i32) (param $bh i32) (param $wx i32)
    (param $bytes i32) (param $n i32) (param $states i32)
    (local $t i32) (local $i i32) (local $col i32) (local $row i32)
    (block $done
      (loop $steps
        (br_if $done (i32.ge_u (local.get $t) (local.get $n)))
        (local.set $col (i32.add (local.get $wx)
          (i32.shl (i32.mul (i32.load8_u (i32.add (local.get $bytes) (local.get $t))) (local.get $H)) (i32.const 2))))
        (local.set $i (i32.const 0))
        (loop $start
          (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
            (f32.add (f32.load (i32.add (local.get $bh) (i32.shl (local.get $i) (i32.const 2))))
              (f32.load (i32.add (local.get $col) (i32.shl (local.get $i) (i32.const 2))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $start (i32.lt_u (local.get $i) (local.get $H))))
        (call $product (i32.const 0) (local.get $v) (local.get $out) (local.get $H) (i32.const 1))
        (local.set $row (i32.add (local.get $states) (i32.shl (i32.mul (local.get $t) (local.get $H)) (i32.const 2))))
        (call $tanhRow (local.get $out) (local.get $v) (local.get $H))
        (memory.copy (local.get $row) (local.get $v) (i32.shl (local.get $H) (i32.const 2)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $steps))))
)
