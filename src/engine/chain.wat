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
  (func (export "product") (param $m i32) (param $v i32) (param $out i32) (param $H i32) (param $accumulate i32)
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
        (br $block1)))))
