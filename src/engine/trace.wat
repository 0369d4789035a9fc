;; The per-position trace of the Q1 analysis (spec, backward steps 1–6) in
;; WebAssembly SIMD. src/engine/trace-kernel.ts lays out the memory; per
;; position src/engine/trace.ts calls `logits`, does the double softmax itself
;; (Math.exp), calls `begin` (steps 1–3), the chain steps (`chain2` for two
;; positions sharing each pass over Wh, `chain1` for one), then `finish`
;; (depth masses and counts), and reads the counts and depth masses back.
;;
;; Exactness: every f32 lane operation rounds like the scalar float32 operation
;; of the spec (no fused multiply-add anywhere), every f64 lane keeps its own sum
;; in the spec's order, and lanes are always different outputs, neurons,
;; positions or offsets d, never different terms of one sum.
;;
;; Layout (byte offsets in globals, set by `setup`): vectors of the hidden size
;; are padded to Hp (a multiple of 32) with zeros. A zero lane never changes a
;; result: the chain adds +0·w = +0 onto sums that start at +0 (so they are never
;; -0), depth masses add +0 onto sums that start at +0, and counts leave out
;; padded lanes explicitly.
;;   wh        Hp×H    Wh[i][j] at (j/32)·32H + 32i + j%32 (blocks of 32 columns)
;;   whSorted  H×H     |Wh[i][·]| sorted ascending, row i at i·H
;;   wyT       H×256   Wy[o][j] at (o/8)·8H + 8j + o%8 (blocks of 8 outputs)
;;   wy        256×Hp  Wy[o][j] at (j/8)·2048 + 8o + j%8 (blocks of 8 neurons)
;;   by        256
;;   wxAbs     256×Hp  |Wx[j][c]| at c·Hp + j
;;   rScaledMax Hp, rInputMax 256×Hp, rOutputMax 256×Hp: range peak factors
;;   taus      T f32, ascending, padded to a multiple of 4 with +Infinity
;; and per slot (one position in flight; see "slot" below):
;;   scaledMax Hp, inputMax 256×Hp (left all zero between positions)
;;   b Hp; scaled Hp×4 (splatted); probs 256 f64; seen 256 bytes; seenList 256 i32
;;   nxBuf     256×Hp  n_x candidates of the position
;;   counts T×3 i32 ([k·3 + class], k in ascending τ order), depth (Dmax+4) f32
;;   depthBuf  (Dmax+3)×Hp  the Wx candidates of offset d (see $inputs) in row d-1
;; The globals b … depthBuf name the regions of the slot in use ($use).
(module
  (memory (export "memory") 1)
  (global $H (mut i32) (i32.const 0))
  (global $Hp (mut i32) (i32.const 0))
  (global $wh (mut i32) (i32.const 0))
  (global $whSorted (mut i32) (i32.const 0))
  (global $wyT (mut i32) (i32.const 0))
  (global $wy (mut i32) (i32.const 0))
  (global $by (mut i32) (i32.const 0))
  (global $wxAbs (mut i32) (i32.const 0))
  (global $rScaledMax (mut i32) (i32.const 0))
  (global $rInputMax (mut i32) (i32.const 0))
  (global $rOutputMax (mut i32) (i32.const 0))
  (global $scaledMax (mut i32) (i32.const 0))
  (global $inputMax (mut i32) (i32.const 0))
  (global $b (mut i32) (i32.const 0))
  (global $scaled (mut i32) (i32.const 0))
  (global $probs (mut i32) (i32.const 0))
  (global $seen (mut i32) (i32.const 0))
  (global $seenList (mut i32) (i32.const 0))
  (global $nxBuf (mut i32) (i32.const 0))
  (global $T (mut i32) (i32.const 0))
  (global $taus (mut i32) (i32.const 0))
  (global $counts (mut i32) (i32.const 0))
  (global $depth (mut i32) (i32.const 0))
  (global $depthBuf (mut i32) (i32.const 0))
  ;; Activation frequency (setupFrequency): FT τ (f32, any order) at $ftaus, and per τ k
  ;; the range's per-pattern counters, i32: fWx at (k·256 + c)·Hp + j counts the positions
  ;; where Wx (c, j) is active, fWy at (k·256 + y)·Hp + j those of Wy (j, y), and fWh at
  ;; (k·H + i)·Hp + s the positions whose first active index of the sorted |Wh| row i is s
  ;; (its active patterns are that index and every later one; trace-kernel.ts sums them up).
  (global $FT (mut i32) (i32.const 0))
  (global $ftaus (mut i32) (i32.const 0))
  (global $fWx (mut i32) (i32.const 0))
  (global $fWh (mut i32) (i32.const 0))
  (global $fWy (mut i32) (i32.const 0))
  ;; The attribution rule of the range (src/engine/computation.ts). Each `@rule`
  ;; line names one; scripts/build-kernel.mjs reads them into
  ;; src/engine/generated/trace-layout.ts, which trace-kernel.ts passes by name.
  ;; @rule q1 0        the spec: the Wx candidate at offset d is |float32(Wx[j][c]·b[j])|
  ;; @rule gated-wx 1  b[j] there carries neuron j's tanh derivative at step t - d (see $inputs)
  (global $rule (mut i32) (i32.const 0))

  (func (export "setup")
    (param $H i32) (param $Hp i32) (param $wh i32) (param $whSorted i32) (param $wyT i32) (param $wy i32)
    (param $by i32) (param $wxAbs i32) (param $rScaledMax i32) (param $rInputMax i32) (param $rOutputMax i32)
    (param $scaledMax i32) (param $inputMax i32) (param $b i32) (param $scaled i32) (param $probs i32)
    (param $seen i32) (param $seenList i32) (param $nxBuf i32)
    (global.set $H (local.get $H))
    (global.set $Hp (local.get $Hp))
    (global.set $wh (local.get $wh))
    (global.set $whSorted (local.get $whSorted))
    (global.set $wyT (local.get $wyT))
    (global.set $wy (local.get $wy))
    (global.set $by (local.get $by))
    (global.set $wxAbs (local.get $wxAbs))
    (global.set $rScaledMax (local.get $rScaledMax))
    (global.set $rInputMax (local.get $rInputMax))
    (global.set $rOutputMax (local.get $rOutputMax))
    (global.set $scaledMax (local.get $scaledMax))
    (global.set $inputMax (local.get $inputMax))
    (global.set $b (local.get $b))
    (global.set $scaled (local.get $scaled))
    (global.set $probs (local.get $probs))
    (global.set $seen (local.get $seen))
    (global.set $seenList (local.get $seenList))
    (global.set $nxBuf (local.get $nxBuf)))

;; The model's weights into the layouts above, from row-major copies of Wh (H×H),
  ;; Wy (256×H) and Wx (H×256) at $rawWh, $rawWy, $rawWx: wh, wyT, wy, and wxAbs
  ;; (|Wx|), and |Wh| row by row into whSorted, which the caller then sorts.
  ;; Only copies and |·|; padding lanes keep the zeros of fresh memory. (In plain
  ;; JavaScript these loops took 6–8 ms of every thread's start, interpreted.)
  (func (export "layout") (param $rawWh i32) (param $rawWy i32) (param $rawWx i32)
    (local $i i32) (local $j i32) (local $o i32) (local $c i32) (local $w f32)
    ;; Wh[i][j]: wh at (j/32)·32H + 32i + j%32, |Wh[i][j]| at whSorted + i·H + j.
    (local.set $i (i32.const 0))
    (loop $rowsWh
      (local.set $j (i32.const 0))
      (loop $colsWh
        (local.set $w (f32.load (i32.add (local.get $rawWh)
          (i32.shl (i32.add (i32.mul (local.get $i) (global.get $H)) (local.get $j)) (i32.const 2)))))
        (f32.store (i32.add (global.get $wh) (i32.shl
          (i32.add (i32.mul (i32.shr_u (local.get $j) (i32.const 5)) (i32.mul (i32.const 32) (global.get $H)))
            (i32.add (i32.mul (local.get $i) (i32.const 32)) (i32.and (local.get $j) (i32.const 31))))
          (i32.const 2)))
          (local.get $w))
        (f32.store (i32.add (global.get $whSorted)
          (i32.shl (i32.add (i32.mul (local.get $i) (global.get $H)) (local.get $j)) (i32.const 2)))
          (f32.abs (local.get $w)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $colsWh (i32.lt_u (local.get $j) (global.get $H))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $rowsWh (i32.lt_u (local.get $i) (global.get $H))))
    ;; Wy[o][j]: wyT at (o/8)·8H + 8j + o%8, wy at (j/8)·2048 + 8o + j%8.
    (local.set $o (i32.const 0))
    (loop $rowsWy
      (local.set $j (i32.const 0))
      (loop $colsWy
        (local.set $w (f32.load (i32.add (local.get $rawWy)
          (i32.shl (i32.add (i32.mul (local.get $o) (global.get $H)) (local.get $j)) (i32.const 2)))))
        (f32.store (i32.add (global.get $wyT) (i32.shl
          (i32.add (i32.mul (i32.shr_u (local.get $o) (i32.const 3)) (i32.mul (i32.const 8) (global.get $H)))
            (i32.add (i32.mul (local.get $j) (i32.const 8)) (i32.and (local.get $o) (i32.const 7))))
          (i32.const 2)))
          (local.get $w))
        (f32.store (i32.add (global.get $wy) (i32.shl
          (i32.add (i32.mul (i32.shr_u (local.get $j) (i32.const 3)) (i32.const 2048))
            (i32.add (i32.mul (local.get $o) (i32.const 8)) (i32.and (local.get $j) (i32.const 7))))
          (i32.const 2)))
          (local.get $w))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $colsWy (i32.lt_u (local.get $j) (global.get $H))))
      (local.set $o (i32.add (local.get $o) (i32.const 1)))
      (br_if $rowsWy (i32.lt_u (local.get $o) (i32.const 256))))
    ;; Wx[j][c]: |Wx[j][c]| at wxAbs + c·Hp + j.
    (local.set $j (i32.const 0))
    (loop $rowsWx
      (local.set $c (i32.const 0))
      (loop $colsWx
        (f32.store (i32.add (global.get $wxAbs)
          (i32.shl (i32.add (i32.mul (local.get $c) (global.get $Hp)) (local.get $j)) (i32.const 2)))
          (f32.abs (f32.load (i32.add (local.get $rawWx)
            (i32.shl (i32.add (i32.mul (local.get $j) (i32.const 256)) (local.get $c)) (i32.const 2))))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br_if $colsWx (i32.lt_u (local.get $c) (i32.const 256))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br_if $rowsWx (i32.lt_u (local.get $j) (global.get $H)))))

  ;; Pattern peaks from peak factors (src/engine/patterns.ts, patternPeaks): the
  ;; factors at $factors as peakFactorLength lays them out (scaledMax H, inputMax
  ;; [c·H + j], outputMax [o·H + j]); into $out: Wx peaks at j·256 + c, then Wh
  ;; peaks at H·256 + i·H + j, then Wy peaks at 2·H·256 + o·H + j. Each peak is
  ;; float32(factor · |w|), one f32.mul, as patternPeaks rounds it.
  (func (export "peaks") (param $factors i32) (param $out i32)
    (local $i i32) (local $j i32) (local $c i32) (local $inputs i32) (local $outWh i32) (local $outWy i32)
    (local.set $inputs (i32.add (local.get $factors) (i32.shl (global.get $H) (i32.const 2))))
    (local.set $outWh (i32.add (local.get $out) (i32.shl (i32.mul (global.get $H) (i32.const 256)) (i32.const 2))))
    (local.set $outWy (i32.add (local.get $outWh) (i32.shl (i32.mul (global.get $H) (global.get $H)) (i32.const 2))))
    ;; Wx (c, j): inputMax[c·H + j] · |Wx[j][c]| (wxAbs at c·Hp + j).
    (local.set $c (i32.const 0))
    (loop $bytesWx
      (local.set $j (i32.const 0))
      (loop $neuronsWx
        (f32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $j) (i32.const 256)) (local.get $c)) (i32.const 2)))
          (f32.mul
            (f32.load (i32.add (local.get $inputs) (i32.shl (i32.add (i32.mul (local.get $c) (global.get $H)) (local.get $j)) (i32.const 2))))
            (f32.load (i32.add (global.get $wxAbs) (i32.shl (i32.add (i32.mul (local.get $c) (global.get $Hp)) (local.get $j)) (i32.const 2))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $neuronsWx (i32.lt_u (local.get $j) (global.get $H))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br_if $bytesWx (i32.lt_u (local.get $c) (i32.const 256))))
    ;; Wh (j → i): scaledMax[i] · |Wh[i][j]| (wh at (j/32)·32H + 32i + j%32).
    (local.set $i (i32.const 0))
    (loop $rowsWh
      (local.set $j (i32.const 0))
      (loop $colsWh
        (f32.store (i32.add (local.get $outWh) (i32.shl (i32.add (i32.mul (local.get $i) (global.get $H)) (local.get $j)) (i32.const 2)))
          (f32.mul
            (f32.load (i32.add (local.get $factors) (i32.shl (local.get $i) (i32.const 2))))
            (f32.abs (f32.load (i32.add (global.get $wh) (i32.shl
              (i32.add (i32.mul (i32.shr_u (local.get $j) (i32.const 5)) (i32.mul (i32.const 32) (global.get $H)))
                (i32.add (i32.mul (local.get $i) (i32.const 32)) (i32.and (local.get $j) (i32.const 31))))
              (i32.const 2)))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $colsWh (i32.lt_u (local.get $j) (global.get $H))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $rowsWh (i32.lt_u (local.get $i) (global.get $H))))
    ;; Wy (j, o): outputMax[o·H + j] itself.
    (memory.copy (local.get $outWy)
      (i32.add (local.get $inputs) (i32.shl (i32.mul (global.get $H) (i32.const 256)) (i32.const 2)))
      (i32.shl (i32.mul (global.get $H) (i32.const 256)) (i32.const 2))))

  ;; Exact sums (src/engine/exactSum.ts, ExactSum) of float32 values, for the
  ;; summary of a range: an accumulator is a count (i32, then 4 bytes of padding)
  ;; and up to 16 f64 partials, 136 bytes. Shewchuk's partials, step for step as
  ;; ExactSum.add and .value, in f64 (IEEE-754 like JavaScript's numbers), so the
  ;; results are ExactSum's bit for bit. Sixteen partials are enough: a sum of
  ;; float32 values is a multiple of 2^-149 below 2^160 (for fewer than 2^32 terms),
  ;; at most 309 bits, which non-overlapping doubles cover in at most 6 (plus one
  ;; while adding).
  (func $exactAdd (param $acc i32) (param $value f64)
    (local $x f64) (local $y f64) (local $hi f64) (local $lo f64) (local $k i32) (local $kept i32) (local $count i32)
    (local.set $x (local.get $value))
    (local.set $count (i32.load (local.get $acc)))
    (local.set $k (i32.const 0))
    (block $done
      (loop $partials
        (br_if $done (i32.ge_u (local.get $k) (local.get $count)))
        (local.set $y (f64.load offset=8 (i32.add (local.get $acc) (i32.shl (local.get $k) (i32.const 3)))))
        (if (f64.lt (f64.abs (local.get $x)) (f64.abs (local.get $y)))
          (then
            (local.set $hi (local.get $x))
            (local.set $x (local.get $y))
            (local.set $y (local.get $hi))))
        (local.set $hi (f64.add (local.get $x) (local.get $y)))
        (local.set $lo (f64.sub (local.get $y) (f64.sub (local.get $hi) (local.get $x))))
        (if (f64.ne (local.get $lo) (f64.const 0))
          (then
            (f64.store offset=8 (i32.add (local.get $acc) (i32.shl (local.get $kept) (i32.const 3))) (local.get $lo))
            (local.set $kept (i32.add (local.get $kept) (i32.const 1)))))
        (local.set $x (local.get $hi))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $partials)))
    (f64.store offset=8 (i32.add (local.get $acc) (i32.shl (local.get $kept) (i32.const 3))) (local.get $x))
    (i32.store (local.get $acc) (i32.add (local.get $kept) (i32.const 1))))

  ;; The accumulator's exact sum rounded once to the nearest double (ExactSum.value).
  (func $exactValue (param $acc i32) (result f64)
    (local $n i32) (local $hi f64) (local $lo f64) (local $x f64) (local $y f64) (local $below f64)
    (local.set $n (i32.load (local.get $acc)))
    (if (i32.eqz (local.get $n)) (then (return (f64.const 0))))
    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
    (local.set $hi (f64.load offset=8 (i32.add (local.get $acc) (i32.shl (local.get $n) (i32.const 3)))))
    (block $done
      (loop $down
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $x (local.get $hi))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (local.set $y (f64.load offset=8 (i32.add (local.get $acc) (i32.shl (local.get $n) (i32.const 3)))))
        (local.set $hi (f64.add (local.get $x) (local.get $y)))
        (local.set $lo (f64.sub (local.get $y) (f64.sub (local.get $hi) (local.get $x))))
        (br_if $done (f64.ne (local.get $lo) (f64.const 0)))
        (br $down)))
    ;; Half-way case: the partials below decide the direction of the rounding.
    (if (i32.gt_u (local.get $n) (i32.const 0))
      (then
        (local.set $below (f64.load offset=8 (i32.add (local.get $acc) (i32.shl (i32.sub (local.get $n) (i32.const 1)) (i32.const 3)))))
        (if (i32.or
              (i32.and (f64.lt (local.get $lo) (f64.const 0)) (f64.lt (local.get $below) (f64.const 0)))
              (i32.and (f64.gt (local.get $lo) (f64.const 0)) (f64.gt (local.get $below) (f64.const 0))))
          (then
            (local.set $y (f64.mul (local.get $lo) (f64.const 2)))
            (local.set $x (f64.add (local.get $hi) (local.get $y)))
            (if (f64.eq (local.get $y) (f64.sub (local.get $x) (local.get $hi)))
              (then (local.set $hi (local.get $x))))))))
    (local.get $hi))

  ;; Summarizes $n positions of a range (src/engine/results.ts, summarizeRange):
  ;; their depth masses at $masses ($slots float32 a position, position q's at
  ;; q·$slots), the first at t = $firstT, each reaching min(t, $dmax). Adds each
  ;; position's masses to the per-offset accumulators at $accs (136 bytes each)
  ;; and counts at $positions (u32 per offset), and writes its total mass (f64,
  ;; exact sum rounded once) at $totals and its peak offset (i32, the first
  ;; largest mass at d ≥ 1, or -1) at $peaks. $total is one more accumulator.
  (func (export "summarize") (param $masses i32) (param $n i32) (param $slots i32) (param $firstT i32) (param $dmax i32)
    (param $accs i32) (param $positions i32) (param $total i32) (param $totals i32) (param $peaks i32)
    (local $q i32) (local $d i32) (local $deepest i32) (local $mass f64) (local $peakMass f64) (local $peak i32) (local $cell i32)
    (block $allDone
      (loop $positionsLoop
        (br_if $allDone (i32.ge_u (local.get $q) (local.get $n)))
        (local.set $deepest (i32.add (local.get $firstT) (local.get $q)))
        (if (i32.gt_u (local.get $deepest) (local.get $dmax)) (then (local.set $deepest (local.get $dmax))))
        (i32.store (local.get $total) (i32.const 0))
        (local.set $peak (i32.const -1))
        (local.set $peakMass (f64.const -inf))
        (local.set $d (i32.const 0))
        (loop $offsets
          (local.set $mass (f64.promote_f32 (f32.load (i32.add (local.get $masses)
            (i32.shl (i32.add (i32.mul (local.get $q) (local.get $slots)) (local.get $d)) (i32.const 2))))))
          (call $exactAdd (local.get $total) (local.get $mass))
          (call $exactAdd (i32.add (local.get $accs) (i32.mul (local.get $d) (i32.const 136))) (local.get $mass))
          (local.set $cell (i32.add (local.get $positions) (i32.shl (local.get $d) (i32.const 2))))
          (i32.store (local.get $cell) (i32.add (i32.load (local.get $cell)) (i32.const 1)))
          (if (i32.and (i32.ge_u (local.get $d) (i32.const 1)) (f64.gt (local.get $mass) (local.get $peakMass)))
            (then
              (local.set $peakMass (local.get $mass))
              (local.set $peak (local.get $d))))
          (local.set $d (i32.add (local.get $d) (i32.const 1)))
          (br_if $offsets (i32.le_u (local.get $d) (local.get $deepest))))
        (f64.store (i32.add (local.get $totals) (i32.shl (local.get $q) (i32.const 3))) (call $exactValue (local.get $total)))
        (i32.store (i32.add (local.get $peaks) (i32.shl (local.get $q) (i32.const 2))) (local.get $peak))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $positionsLoop))))

    (func (export "setupRange") (param $T i32) (param $taus i32) (param $rule i32)
    (global.set $T (local.get $T))
    (global.set $taus (local.get $taus))
    (global.set $rule (local.get $rule))
    (global.set $FT (i32.const 0)))

  ;; The range's frequency τ and counters (see $FT); after setupRange, which clears them.
  (func (export "setupFrequency") (param $FT i32) (param $ftaus i32) (param $fWx i32) (param $fWh i32) (param $fWy i32)
    (global.set $FT (local.get $FT))
    (global.set $ftaus (local.get $ftaus))
    (global.set $fWx (local.get $fWx))
    (global.set $fWh (local.get $fWh))
    (global.set $fWy (local.get $fWy)))

  ;; Sum of the four i32 lanes.
  (func $hsum (param $v v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
      (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))

  ;; logit[o] = by[o] + Σ_{j<H} float32(Wy[o][j]·h[j]), in double, in order j;
  ;; written to probs[o] of slot S. Lanes are outputs o, eight at a time.
  ;; Returns the largest logit (NaN never is; the sign of a zero maximum does not
  ;; matter to exp(logit - max)).
  (func (export "logits") (param $S i32) (param $h i32) (result f64)
    (local $o i32) (local $j i32) (local $w i32) (local $hp i32) (local $blockBytes i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $s v128) (local $p v128) (local $q v128) (local $m v128)
    (local.set $m (v128.const f64x2 -inf -inf))
    (global.set $probs (i32.load offset=28 (local.get $S)))
    (local.set $blockBytes (i32.shl (global.get $H) (i32.const 5)))
    (loop $outs
      (local.set $w (i32.add (global.get $by) (i32.shl (local.get $o) (i32.const 2))))
      (local.set $p (v128.load offset=0 (local.get $w)))
      (local.set $q (v128.load offset=16 (local.get $w)))
      (local.set $a0 (f64x2.promote_low_f32x4 (local.get $p)))
      (local.set $a1 (f64x2.promote_low_f32x4
        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $p) (local.get $p))))
      (local.set $a2 (f64x2.promote_low_f32x4 (local.get $q)))
      (local.set $a3 (f64x2.promote_low_f32x4
        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $q) (local.get $q))))
      (local.set $w (i32.add (global.get $wyT) (i32.mul (i32.shr_u (local.get $o) (i32.const 3)) (local.get $blockBytes))))
      (local.set $hp (local.get $h))
      (local.set $j (global.get $H))
      (loop $terms
        (local.set $s (f32x4.splat (f32.load (local.get $hp))))
        (local.set $p (f32x4.mul (v128.load offset=0 (local.get $w)) (local.get $s)))
        (local.set $q (f32x4.mul (v128.load offset=16 (local.get $w)) (local.get $s)))
        (local.set $a0 (f64x2.add (local.get $a0) (f64x2.promote_low_f32x4 (local.get $p))))
        (local.set $a1 (f64x2.add (local.get $a1) (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $p) (local.get $p)))))
        (local.set $a2 (f64x2.add (local.get $a2) (f64x2.promote_low_f32x4 (local.get $q))))
        (local.set $a3 (f64x2.add (local.get $a3) (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $q) (local.get $q)))))
        (local.set $w (i32.add (local.get $w) (i32.const 32)))
        (local.set $hp (i32.add (local.get $hp) (i32.const 4)))
        (local.set $j (i32.sub (local.get $j) (i32.const 1)))
        (br_if $terms (local.get $j)))
      (local.set $w (i32.add (global.get $probs) (i32.shl (local.get $o) (i32.const 3))))
      (v128.store offset=0 (local.get $w) (local.get $a0))
      (v128.store offset=16 (local.get $w) (local.get $a1))
      (v128.store offset=32 (local.get $w) (local.get $a2))
      (v128.store offset=48 (local.get $w) (local.get $a3))
      (local.set $m (f64x2.pmax (local.get $m) (local.get $a0)))
      (local.set $m (f64x2.pmax (local.get $m) (local.get $a1)))
      (local.set $m (f64x2.pmax (local.get $m) (local.get $a2)))
      (local.set $m (f64x2.pmax (local.get $m) (local.get $a3)))
      (local.set $o (i32.add (local.get $o) (i32.const 8)))
      (br_if $outs (i32.lt_u (local.get $o) (i32.const 256))))
    (f64.max (f64x2.extract_lane 0 (local.get $m)) (f64x2.extract_lane 1 (local.get $m))))

;; exp(x) as JavaScript's Math.exp computes it in V8 (src/base/ieee754.cc:
  ;; fdlibm's __ieee754_exp, with exp(1) special-cased to E), step for step in
  ;; f64, so the softmax is Math.exp's bit for bit (tested against it).
  (func $exp (param $x f64) (result f64)
    (local $hx i32) (local $xsb i32) (local $k i32) (local $hi f64) (local $lo f64)
    (local $t f64) (local $c f64) (local $y f64) (local $twopk f64)
    (local.set $hx (i32.wrap_i64 (i64.shr_u (i64.reinterpret_f64 (local.get $x)) (i64.const 32))))
    (local.set $xsb (i32.shr_u (local.get $hx) (i32.const 31)))
    (local.set $hx (i32.and (local.get $hx) (i32.const 0x7fffffff)))
    ;; |x| ≥ 709.78…: NaN, ±Infinity, overflow, underflow.
    (if (i32.ge_u (local.get $hx) (i32.const 0x40862E42))
      (then
        (if (i32.ge_u (local.get $hx) (i32.const 0x7ff00000))
          (then
            (if (i32.or (i32.and (local.get $hx) (i32.const 0xfffff))
                  (i32.wrap_i64 (i64.reinterpret_f64 (local.get $x))))
              (then (return (f64.add (local.get $x) (local.get $x)))))
            (return (select (local.get $x) (f64.const 0) (i32.eqz (local.get $xsb))))))
        (if (f64.gt (local.get $x) (f64.const 0x1.62e42fefa39efp+9))
          (then (return (f64.const inf))))
        (if (f64.lt (local.get $x) (f64.const -0x1.74910d52d3051p+9))
          (then (return (f64.const 0))))))
    ;; Argument reduction: x = k·ln2 + r, |r| ≤ 0.5·ln2, r as hi - lo.
    (if (i32.gt_u (local.get $hx) (i32.const 0x3FD62E42))
      (then
        (if (i32.lt_u (local.get $hx) (i32.const 0x3FF0A2B2))
          (then
            (if (f64.eq (local.get $x) (f64.const 1)) (then (return (f64.const 0x1.5bf0a8b145769p+1))))
            (if (local.get $xsb)
              (then
                (local.set $hi (f64.add (local.get $x) (f64.const 0x1.62e42feep-1)))
                (local.set $lo (f64.const -0x1.a39ef35793c76p-33))
                (local.set $k (i32.const -1)))
              (else
                (local.set $hi (f64.sub (local.get $x) (f64.const 0x1.62e42feep-1)))
                (local.set $lo (f64.const 0x1.a39ef35793c76p-33))
                (local.set $k (i32.const 1)))))
          (else
            (local.set $k (i32.trunc_f64_s (f64.add (f64.mul (f64.const 0x1.71547652b82fep+0) (local.get $x))
              (select (f64.const -0.5) (f64.const 0.5) (local.get $xsb)))))
            (local.set $t (f64.convert_i32_s (local.get $k)))
            (local.set $hi (f64.sub (local.get $x) (f64.mul (local.get $t) (f64.const 0x1.62e42feep-1))))
            (local.set $lo (f64.mul (local.get $t) (f64.const 0x1.a39ef35793c76p-33)))))
        (local.set $x (f64.sub (local.get $hi) (local.get $lo))))
      (else
        ;; |x| < 2^-28: 1 + x (fdlibm's test huge + x > 1 holds for every such x).
        (if (i32.lt_u (local.get $hx) (i32.const 0x3e300000))
          (then (return (f64.add (f64.const 1) (local.get $x)))))))
    (local.set $t (f64.mul (local.get $x) (local.get $x)))
    (local.set $twopk (f64.reinterpret_i64 (i64.shl (i64.extend_i32_u
      (i32.add (i32.const 0x3ff00000) (i32.shl
        (select (local.get $k) (i32.add (local.get $k) (i32.const 1000)) (i32.ge_s (local.get $k) (i32.const -1021)))
        (i32.const 20))))
      (i64.const 32))))
    (local.set $c (f64.sub (local.get $x) (f64.mul (local.get $t)
      (f64.add (f64.const 0x1.555555555553ep-3) (f64.mul (local.get $t)
        (f64.add (f64.const -0x1.6c16c16bebd93p-9) (f64.mul (local.get $t)
          (f64.add (f64.const 0x1.1566aaf25de2cp-14) (f64.mul (local.get $t)
            (f64.add (f64.const -0x1.bbd41c5d26bf1p-20) (f64.mul (local.get $t) (f64.const 0x1.6376972bea4d0p-25))))))))))))
    (if (i32.eqz (local.get $k))
      (then (return (f64.sub (f64.const 1)
        (f64.sub (f64.div (f64.mul (local.get $x) (local.get $c)) (f64.sub (local.get $c) (f64.const 2))) (local.get $x))))))
    (local.set $y (f64.sub (f64.const 1)
      (f64.sub (f64.sub (local.get $lo) (f64.div (f64.mul (local.get $x) (local.get $c)) (f64.sub (f64.const 2) (local.get $c))))
        (local.get $hi))))
    (if (i32.ge_s (local.get $k) (i32.const -1021))
      (then
        (if (i32.eq (local.get $k) (i32.const 1024))
          (then (return (f64.mul (f64.mul (local.get $y) (f64.const 2)) (f64.const 0x1p1023)))))
        (return (f64.mul (local.get $y) (local.get $twopk)))))
    (f64.mul (f64.mul (local.get $y) (local.get $twopk)) (f64.const 0x1p-1000)))

  ;; exp(x) for tests (src/engine/trace-kernel.ts, kernelExp).
  (func (export "exp") (param $x f64) (result f64)
    (call $exp (local.get $x)))

  ;; The softmax's numerators in slot S after `logits`: probs[o] = exp(logit[o] - max),
  ;; and their sum in order o, returned (what `begin` divides by).
  (func (export "exponentials") (param $S i32) (param $max f64) (result f64)
    (local $o i32) (local $p i32) (local $e f64) (local $sum f64)
    (local.set $p (i32.load offset=28 (local.get $S)))
    (loop $outs
      (local.set $e (call $exp (f64.sub (f64.load (local.get $p)) (local.get $max))))
      (f64.store (local.get $p) (local.get $e))
      (local.set $sum (f64.add (local.get $sum) (local.get $e)))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (local.set $o (i32.add (local.get $o) (i32.const 1)))
      (br_if $outs (i32.lt_u (local.get $o) (i32.const 256))))
    (local.get $sum))

    ;; out[j] = Σ_{i<rows} M[i][j]·v[i] for j < cols (a multiple of 32), in
  ;; float32, in order i, from +0; v is splatted (v[i] in all lanes of the
  ;; vector at 16·i, so no lane broadcast competes with the arithmetic). M is blocked by 32 columns: the block of
  ;; columns 32·q .. 32·q+31 holds rows 0 .. rows-1 of 32 floats each, and the
  ;; blocks follow each other, so the matrix is read as one stream. Eight
  ;; accumulators keep both float pipes busy past the add latency.
  (func $product (param $m i32) (param $v i32) (param $out i32) (param $rows i32) (param $cols i32)
    (local $jo i32) (local $end i32) (local $i i32) (local $p i32) (local $sp i32)
    (local $s v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $cols) (i32.const 2))))
    (local.set $jo (local.get $out))
    (local.set $p (local.get $m))
    (loop $blocks
      (local.set $a0 (v128.const f32x4 0 0 0 0))
      (local.set $a1 (v128.const f32x4 0 0 0 0))
      (local.set $a2 (v128.const f32x4 0 0 0 0))
      (local.set $a3 (v128.const f32x4 0 0 0 0))
      (local.set $a4 (v128.const f32x4 0 0 0 0))
      (local.set $a5 (v128.const f32x4 0 0 0 0))
      (local.set $a6 (v128.const f32x4 0 0 0 0))
      (local.set $a7 (v128.const f32x4 0 0 0 0))
      (local.set $sp (local.get $v))
      (local.set $i (local.get $rows))
      (loop $rows
        (local.set $s (v128.load (local.get $sp)))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load offset=0 (local.get $p)) (local.get $s))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $p)) (local.get $s))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (local.get $p)) (local.get $s))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load offset=48 (local.get $p)) (local.get $s))))
        (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (v128.load offset=64 (local.get $p)) (local.get $s))))
        (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (v128.load offset=80 (local.get $p)) (local.get $s))))
        (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (v128.load offset=96 (local.get $p)) (local.get $s))))
        (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (v128.load offset=112 (local.get $p)) (local.get $s))))
        (local.set $p (i32.add (local.get $p) (i32.const 128)))
        (local.set $sp (i32.add (local.get $sp) (i32.const 16)))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br_if $rows (local.get $i)))
      (v128.store offset=0 (local.get $jo) (local.get $a0))
      (v128.store offset=16 (local.get $jo) (local.get $a1))
      (v128.store offset=32 (local.get $jo) (local.get $a2))
      (v128.store offset=48 (local.get $jo) (local.get $a3))
      (v128.store offset=64 (local.get $jo) (local.get $a4))
      (v128.store offset=80 (local.get $jo) (local.get $a5))
      (v128.store offset=96 (local.get $jo) (local.get $a6))
      (v128.store offset=112 (local.get $jo) (local.get $a7))
      (local.set $jo (i32.add (local.get $jo) (i32.const 128)))
      (br_if $blocks (i32.lt_u (local.get $jo) (local.get $end)))))

  ;; outA[j] = Σ_i M[i][j]·vA[i] and outB[j] = Σ_i M[i][j]·vB[i]: $product for
  ;; two vectors in one pass over M (each sum in order i, from +0), in halves
  ;; of the 32-column blocks so that eight accumulators stay in registers.
  (func $product2 (param $m i32) (param $vA i32) (param $vB i32) (param $outA i32) (param $outB i32) (param $rows i32) (param $cols i32)
    (local $jo i32) (local $end i32) (local $i i32) (local $p i32) (local $block i32) (local $spA i32) (local $spB i32)
    (local $sA v128) (local $sB v128) (local $w v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local.set $end (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $block (local.get $m))
    (loop $blocks
      (local.set $a0 (v128.const f32x4 0 0 0 0))
      (local.set $a1 (v128.const f32x4 0 0 0 0))
      (local.set $a2 (v128.const f32x4 0 0 0 0))
      (local.set $a3 (v128.const f32x4 0 0 0 0))
      (local.set $b0 (v128.const f32x4 0 0 0 0))
      (local.set $b1 (v128.const f32x4 0 0 0 0))
      (local.set $b2 (v128.const f32x4 0 0 0 0))
      (local.set $b3 (v128.const f32x4 0 0 0 0))
      ;; columns jo/4 .. jo/4+15: block jo/128, half (jo/64) % 2
      (local.set $p (i32.add (local.get $block) (i32.and (local.get $jo) (i32.const 64))))
      (local.set $spA (local.get $vA))
      (local.set $spB (local.get $vB))
      (local.set $i (local.get $rows))
      (loop $rowsLoop
        (local.set $sA (v128.load (local.get $spA)))
        (local.set $sB (v128.load (local.get $spB)))
        (local.set $w (v128.load offset=0 (local.get $p)))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $w) (local.get $sA))))
        (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $w) (local.get $sB))))
        (local.set $w (v128.load offset=16 (local.get $p)))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $w) (local.get $sA))))
        (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $w) (local.get $sB))))
        (local.set $w (v128.load offset=32 (local.get $p)))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $w) (local.get $sA))))
        (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $w) (local.get $sB))))
        (local.set $w (v128.load offset=48 (local.get $p)))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $w) (local.get $sA))))
        (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $w) (local.get $sB))))
        (local.set $p (i32.add (local.get $p) (i32.const 128)))
        (local.set $spA (i32.add (local.get $spA) (i32.const 16)))
        (local.set $spB (i32.add (local.get $spB) (i32.const 16)))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br_if $rowsLoop (local.get $i)))
      (local.set $p (i32.add (local.get $outA) (local.get $jo)))
      (v128.store offset=0 (local.get $p) (local.get $a0))
      (v128.store offset=16 (local.get $p) (local.get $a1))
      (v128.store offset=32 (local.get $p) (local.get $a2))
      (v128.store offset=48 (local.get $p) (local.get $a3))
      (local.set $p (i32.add (local.get $outB) (local.get $jo)))
      (v128.store offset=0 (local.get $p) (local.get $b0))
      (v128.store offset=16 (local.get $p) (local.get $b1))
      (v128.store offset=32 (local.get $p) (local.get $b2))
      (v128.store offset=48 (local.get $p) (local.get $b3))
      (local.set $jo (i32.add (local.get $jo) (i32.const 64)))
      ;; after the second half of a block, on to the next block (rows × 128 bytes)
      (if (i32.eqz (i32.and (local.get $jo) (i32.const 64)))
        (then (local.set $block (i32.add (local.get $block) (i32.shl (local.get $rows) (i32.const 7))))))
      (br_if $blocks (i32.lt_u (local.get $jo) (local.get $end)))))

  ;; Per-position state lives in a slot (two slots, so that two positions can
  ;; share the chain's matrix loads). A slot is a record of i32 fields, one
  ;; `@slot` line each: scripts/build-kernel.mjs reads them into
  ;; src/engine/generated/trace-layout.ts (the offsets trace-kernel.ts writes the
  ;; record by), and refuses a slot access here at an offset no line declares or
  ;; named for another field.
  ;; @slot 0 b           the region of b (g at d = 0)
  ;; @slot 4 scaled      the region of scaled, splatted
  ;; @slot 8 scaledMax   the position's Wh peak factors
  ;; @slot 12 inputMax   the position's Wx peak factors
  ;; @slot 16 seen       which bytes c the position has seen
  ;; @slot 20 seenList   those bytes, in order seen
  ;; @slot 24 nxBuf      n_x candidates
  ;; @slot 28 probs      probabilities (f64)
  ;; @slot 32 counts     counts (per range)
  ;; @slot 36 depth      depth masses (per range)
  ;; @slot 40 depthBuf   Wx candidate rows per offset (per range)
  ;; @slot 44 seenCount  how many bytes seenList holds
  ;; @slot 48 drow       the next depthBuf row
  ;; @slot 52 hrow       the state row of the next step
  ;; @slot 56 x          the address of the byte x_t
  ;; @slot 60 deepest    min(Dmax, t)
  ;; $use makes a slot's regions the current ones (the globals below).
  (func $use (param $S i32)
    (global.set $b (i32.load offset=0 (local.get $S)))
    (global.set $scaled (i32.load offset=4 (local.get $S)))
    (global.set $scaledMax (i32.load offset=8 (local.get $S)))
    (global.set $inputMax (i32.load offset=12 (local.get $S)))
    (global.set $seen (i32.load offset=16 (local.get $S)))
    (global.set $seenList (i32.load offset=20 (local.get $S)))
    (global.set $nxBuf (i32.load offset=24 (local.get $S)))
    (global.set $probs (i32.load offset=28 (local.get $S)))
    (global.set $counts (i32.load offset=32 (local.get $S)))
    (global.set $depth (i32.load offset=36 (local.get $S)))
    (global.set $depthBuf (i32.load offset=40 (local.get $S))))

  ;; Starts position t in slot S: h points at h_t (row t of the states, stride
  ;; Hp; the rows of h_{t-1}, h_{t-2}, … precede it), x at the byte x_t (x_{t-d}
  ;; at x - d), y the target, depth = min(Dmax, t); the slot's probs hold
  ;; exp(logit[o] - max) and expSum their sum: P_t[o] = probs[o] / expSum.
  ;; Steps 1–3: g into b, the depth mass at d = 0, n_y at every τ, Wy peaks.
  (func (export "begin") (param $S i32) (param $h i32) (param $x i32) (param $y i32) (param $depth i32) (param $expSum f64)
    (local $j i32) (local $jo i32) (local $o i32) (local $w i32) (local $pp i32) (local $k i32)
    (local $d i32) (local $i i32) (local $c i32) (local $n i32) (local $half i32) (local $base i32)
    (local $hrow i32) (local $col i32) (local $nb i32) (local $end i32) (local $seenCount i32)
    (local $rowBytes i32) (local $cnt i32) (local $ptr i32)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local $v v128) (local $u v128) (local $pv v128) (local $tv v128) (local $cv v128)
    (local $sum f32) (local $f f32) (local $tau f32) (local $tau1 f32) (local $tau2 f32) (local $tau3 f32)
    (local $base1 i32) (local $base2 i32) (local $base3 i32) (local $step i32) (local $off i32)
    (local $gb i32) (local $gscaled i32) (local $gsmax i32) (local $ginput i32) (local $gwx i32)
    (local $one v128) (local $gate v128) (local $drow i32) (local $top f32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (call $use (local.get $S))
    (local.set $rowBytes (i32.shl (global.get $Hp) (i32.const 2)))
    ;; the softmax's division, two outputs at a time
    (local.set $pv (f64x2.splat (local.get $expSum)))
    (local.set $pp (global.get $probs))
    (local.set $end (i32.add (local.get $pp) (i32.const 2048)))
    (loop $divide
      (v128.store (local.get $pp) (f64x2.div (v128.load (local.get $pp)) (local.get $pv)))
      (local.set $pp (i32.add (local.get $pp) (i32.const 16)))
      (br_if $divide (i32.lt_u (local.get $pp) (local.get $end))))

    ;; Step 1: g[j] = float32(Wy[y][j] - Σ_o Wy[o][j]·P[o]), sums in double in
    ;; order o; lanes are neurons j, eight at a time. g goes into b.
    (local.set $jo (i32.const 0))
    (loop $gblocks
      (local.set $acc0 (v128.const f64x2 0 0))
      (local.set $acc1 (v128.const f64x2 0 0))
      (local.set $acc2 (v128.const f64x2 0 0))
      (local.set $acc3 (v128.const f64x2 0 0))
      (local.set $w (i32.add (global.get $wy) (i32.shl (local.get $jo) (i32.const 8))))
      (local.set $pp (global.get $probs))
      (local.set $o (i32.const 256))
      (loop $outs
        ;; each pair of Wy values is loaded on its own (no lane shuffles)
        (local.set $pv (v128.load64_splat (local.get $pp)))
        (local.set $acc0 (f64x2.add (local.get $acc0)
          (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=0 (local.get $w))) (local.get $pv))))
        (local.set $acc1 (f64x2.add (local.get $acc1)
          (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $w))) (local.get $pv))))
        (local.set $acc2 (f64x2.add (local.get $acc2)
          (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $w))) (local.get $pv))))
        (local.set $acc3 (f64x2.add (local.get $acc3)
          (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $w))) (local.get $pv))))
        (local.set $w (i32.add (local.get $w) (i32.const 32)))
        (local.set $pp (i32.add (local.get $pp) (i32.const 8)))
        (local.set $o (i32.sub (local.get $o) (i32.const 1)))
        (br_if $outs (local.get $o)))
      (local.set $w (i32.add (i32.add (global.get $wy) (i32.shl (local.get $jo) (i32.const 8))) (i32.shl (local.get $y) (i32.const 5))))
      (local.set $v (v128.load offset=0 (local.get $w)))
      (local.set $u (v128.load offset=16 (local.get $w)))
      (local.set $ptr (i32.add (global.get $b) (local.get $jo)))
      (v128.store offset=0 (local.get $ptr)
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $acc0)))
          (f32x4.demote_f64x2_zero (f64x2.sub (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $acc1)))))
      (v128.store offset=16 (local.get $ptr)
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (f64x2.sub (f64x2.promote_low_f32x4 (local.get $u)) (local.get $acc2)))
          (f32x4.demote_f64x2_zero (f64x2.sub (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $u) (local.get $u))) (local.get $acc3)))))
      (local.set $jo (i32.add (local.get $jo) (i32.const 32)))
      (br_if $gblocks (i32.lt_u (local.get $jo) (local.get $rowBytes))))

    ;; d = 0: depth mass Σ_{j<H} |g[j]| in float32, in order j.
    (local.set $sum (f32.const 0))
    (local.set $ptr (global.get $b))
    (local.set $end (i32.add (global.get $b) (i32.shl (global.get $H) (i32.const 2))))
    (loop $mass0
      (local.set $sum (f32.add (local.get $sum) (f32.abs (f32.load (local.get $ptr)))))
      (local.set $ptr (i32.add (local.get $ptr) (i32.const 4)))
      (br_if $mass0 (i32.lt_u (local.get $ptr) (local.get $end))))
    (f32.store (global.get $depth) (local.get $sum))

    ;; n_y at every τ: |g[j]| > τ over j < H (the Hp - H padded zeros are taken
    ;; back out), and the Wy peak factors (j, y).
    (local.set $end (i32.add (global.get $b) (local.get $rowBytes)))
    (local.set $k (i32.const 0))
    (block $nyDone
      (loop $ny
        (br_if $nyDone (i32.ge_u (local.get $k) (global.get $T)))
        (local.set $tau (f32.load (i32.add (global.get $taus) (i32.shl (local.get $k) (i32.const 2)))))
        (local.set $tv (f32x4.splat (local.get $tau)))
        (local.set $cv (v128.const i32x4 0 0 0 0))
        (local.set $ptr (global.get $b))
        (loop $nyLanes
          (local.set $cv (i32x4.sub (local.get $cv) (f32x4.gt (f32x4.abs (v128.load (local.get $ptr))) (local.get $tv))))
          (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
          (br_if $nyLanes (i32.lt_u (local.get $ptr) (local.get $end))))
        (local.set $cnt (call $hsum (local.get $cv)))
        (if (f32.gt (f32.const 0) (local.get $tau))
          (then (local.set $cnt (i32.sub (local.get $cnt) (i32.sub (global.get $Hp) (global.get $H))))))
        (local.set $ptr (i32.add (global.get $counts) (i32.mul (local.get $k) (i32.const 12))))
        (i32.store offset=0 (local.get $ptr) (i32.const 0))
        (i32.store offset=4 (local.get $ptr) (i32.const 0))
        (i32.store offset=8 (local.get $ptr) (local.get $cnt))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $ny)))
    ;; Wy frequencies: (j, y) is active where |g[j]| > τ, as n_y counts it (padded lanes are never read back).
    (local.set $k (i32.const 0))
    (block $fyDone
      (loop $fy
        (br_if $fyDone (i32.ge_u (local.get $k) (global.get $FT)))
        (local.set $tv (f32x4.splat (f32.load (i32.add (global.get $ftaus) (i32.shl (local.get $k) (i32.const 2))))))
        (local.set $w (i32.add (global.get $fWy)
          (i32.mul (i32.add (i32.shl (local.get $k) (i32.const 8)) (local.get $y)) (local.get $rowBytes))))
        (local.set $jo (i32.const 0))
        (loop $fyLanes
          (local.set $ptr (i32.add (local.get $w) (local.get $jo)))
          (v128.store (local.get $ptr) (i32x4.sub (v128.load (local.get $ptr))
            (f32x4.gt (f32x4.abs (v128.load (i32.add (global.get $b) (local.get $jo)))) (local.get $tv))))
          (local.set $jo (i32.add (local.get $jo) (i32.const 16)))
          (br_if $fyLanes (i32.lt_u (local.get $jo) (local.get $rowBytes))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $fy)))
    (local.set $w (i32.add (global.get $rOutputMax) (i32.mul (local.get $y) (local.get $rowBytes))))
    (local.set $jo (i32.const 0))
    (loop $ymax
      (local.set $ptr (i32.add (local.get $w) (local.get $jo)))
      (v128.store (local.get $ptr) (f32x4.pmax (v128.load (local.get $ptr))
        (f32x4.abs (v128.load (i32.add (global.get $b) (local.get $jo))))))
      (local.set $jo (i32.add (local.get $jo) (i32.const 16)))
      (br_if $ymax (i32.lt_u (local.get $jo) (local.get $rowBytes))))

    (memory.fill (global.get $scaledMax) (i32.const 0) (local.get $rowBytes))
    (i32.store offset=44 (local.get $S) (i32.const 0))
    (i32.store offset=48 (local.get $S) (global.get $depthBuf))
    (i32.store offset=52 (local.get $S) (local.get $h))
    (i32.store offset=56 (local.get $S) (local.get $x))
    (i32.store offset=60 (local.get $S) (local.get $depth)))

  ;; Step 4 before the product, for the slot's next offset: scaled[i] =
  ;; float32(float32(1 - float32(h_s[i]²)) · b[i]) with s = t - d + 1, and
  ;; scaledMax[i] keeps the largest |scaled[i]| not below the gate.
  (func $scale (param $S i32)
    (local $jo i32) (local $rowBytes i32) (local $hrow i32) (local $b i32) (local $scaled i32) (local $smax i32) (local $ptr i32)
    (local $v v128) (local $one v128) (local $gate v128)
    (local.set $rowBytes (i32.shl (global.get $Hp) (i32.const 2)))
    (local.set $hrow (i32.load offset=52 (local.get $S)))
    (local.set $b (i32.load offset=0 (local.get $S)))
    (local.set $scaled (i32.load offset=4 (local.get $S)))
    (local.set $smax (i32.load offset=8 (local.get $S)))
    (local.set $one (v128.const f32x4 1 1 1 1))
    (local.set $gate (v128.const f32x4 1e-8 1e-8 1e-8 1e-8))
    (loop $lanes
      (local.set $v (v128.load (i32.add (local.get $hrow) (local.get $jo))))
      (local.set $v (f32x4.mul
        (f32x4.sub (local.get $one) (f32x4.mul (local.get $v) (local.get $v)))
        (v128.load (i32.add (local.get $b) (local.get $jo)))))
      ;; scaled is kept splatted (scaled[i] in all four lanes at 16·i) for the products
      (local.set $ptr (i32.add (local.get $scaled) (i32.shl (local.get $jo) (i32.const 2))))
      (v128.store offset=0 (local.get $ptr) (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $v) (local.get $v)))
      (v128.store offset=16 (local.get $ptr) (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $v) (local.get $v)))
      (v128.store offset=32 (local.get $ptr) (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $v) (local.get $v)))
      (v128.store offset=48 (local.get $ptr) (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $v) (local.get $v)))
      (local.set $v (f32x4.abs (local.get $v)))
      (local.set $v (v128.and (local.get $v) (f32x4.ge (local.get $v) (local.get $gate))))
      (local.set $ptr (i32.add (local.get $smax) (local.get $jo)))
      (v128.store (local.get $ptr) (f32x4.pmax (v128.load (local.get $ptr)) (local.get $v)))
      (local.set $jo (i32.add (local.get $jo) (i32.const 16)))
      (br_if $lanes (i32.lt_u (local.get $jo) (local.get $rowBytes))))
    (i32.store offset=52 (local.get $S) (i32.sub (local.get $hrow) (local.get $rowBytes))))

  ;; Step 4 after the product (b is the new b) at offset d: Wx (c, j) with
  ;; c = x_{t-d} gets input maxima |f[j]|, and |float32(Wx[j][c]·f[j])| goes to
  ;; the slot's next depthBuf row (summed later). The factor f is the rule's:
  ;; q1 f = b; gated-wx f = float32(float32(1 - float32(h[j]·h[j]))·b[j]) with
  ;; h = h_{t-d}, the row $scale left hrow at.
  (func $inputs (param $S i32) (param $d i32)
    (local $jo i32) (local $rowBytes i32) (local $c i32) (local $seen i32) (local $seenCount i32) (local $col i32)
    (local $b i32) (local $input i32) (local $wx i32) (local $drow i32) (local $ptr i32) (local $v v128)
    (local $gated i32) (local $hrow i32) (local $h v128)
    (local.set $rowBytes (i32.shl (global.get $Hp) (i32.const 2)))
    (local.set $c (i32.load8_u (i32.sub (i32.load offset=56 (local.get $S)) (local.get $d))))
    (local.set $seen (i32.load offset=16 (local.get $S)))
    (if (i32.eqz (i32.load8_u (i32.add (local.get $seen) (local.get $c))))
      (then
        (i32.store8 (i32.add (local.get $seen) (local.get $c)) (i32.const 1))
        (local.set $seenCount (i32.load offset=44 (local.get $S)))
        (i32.store (i32.add (i32.load offset=20 (local.get $S)) (i32.shl (local.get $seenCount) (i32.const 2))) (local.get $c))
        (i32.store offset=44 (local.get $S) (i32.add (local.get $seenCount) (i32.const 1)))))
    (local.set $col (i32.mul (local.get $c) (local.get $rowBytes)))
    (local.set $b (i32.load offset=0 (local.get $S)))
    (local.set $input (i32.add (i32.load offset=12 (local.get $S)) (local.get $col)))
    (local.set $wx (i32.add (global.get $wxAbs) (local.get $col)))
    (local.set $drow (i32.load offset=48 (local.get $S)))
    (local.set $gated (i32.eq (global.get $rule) (i32.const 1)))
    (local.set $hrow (i32.load offset=52 (local.get $S)))
    (loop $lanes
      (local.set $v (v128.load (i32.add (local.get $b) (local.get $jo))))
      (if (local.get $gated)
        (then
          (local.set $h (v128.load (i32.add (local.get $hrow) (local.get $jo))))
          (local.set $v (f32x4.mul
            (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $h) (local.get $h)))
            (local.get $v)))))
      (local.set $v (f32x4.abs (local.get $v)))
      (local.set $ptr (i32.add (local.get $input) (local.get $jo)))
      (v128.store (local.get $ptr) (f32x4.pmax (v128.load (local.get $ptr)) (local.get $v)))
      (v128.store (i32.add (local.get $drow) (local.get $jo))
        (f32x4.mul (v128.load (i32.add (local.get $wx) (local.get $jo))) (local.get $v)))
      (local.set $jo (i32.add (local.get $jo) (i32.const 16)))
      (br_if $lanes (i32.lt_u (local.get $jo) (local.get $rowBytes))))
    (i32.store offset=48 (local.get $S) (i32.add (local.get $drow) (local.get $rowBytes))))

  ;; Step 4 for offsets d = from .. to of slot S alone: b ← Whᵀ·scaled.
  (func (export "chain1") (param $S i32) (param $from i32) (param $to i32)
    (local $d i32)
    (local.set $d (local.get $from))
    (block $done
      (loop $steps
        (br_if $done (i32.gt_s (local.get $d) (local.get $to)))
        (call $scale (local.get $S))
        (call $product (global.get $wh) (i32.load offset=4 (local.get $S)) (i32.load offset=0 (local.get $S)) (global.get $H) (global.get $Hp))
        (call $inputs (local.get $S) (local.get $d))
        (local.set $d (i32.add (local.get $d) (i32.const 1)))
        (br $steps))))

  ;; Step 4 for offsets d = 1 .. to of slots A and B together: one pass over Wh
  ;; serves both (each output keeps its own sum in order i).
  (func (export "chain2") (param $A i32) (param $B i32) (param $to i32)
    (local $d i32)
    (local.set $d (i32.const 1))
    (block $done
      (loop $steps
        (br_if $done (i32.gt_s (local.get $d) (local.get $to)))
        (call $scale (local.get $A))
        (call $scale (local.get $B))
        (call $product2 (global.get $wh)
          (i32.load offset=4 (local.get $A)) (i32.load offset=4 (local.get $B))
          (i32.load offset=0 (local.get $A)) (i32.load offset=0 (local.get $B))
          (global.get $H) (global.get $Hp))
        (call $inputs (local.get $A) (local.get $d))
        (call $inputs (local.get $B) (local.get $d))
        (local.set $d (i32.add (local.get $d) (i32.const 1)))
        (br $steps))))

  ;; Ends the position in slot S: depth masses, n_h, n_x, Wh and Wx peaks.
  ;; Writes counts[k·3 + class] for every τ and depth[0 .. depth].
  (func (export "finish") (param $S i32)
    (local $deepest i32)
    (local $j i32) (local $jo i32) (local $o i32) (local $w i32) (local $pp i32) (local $k i32)
    (local $d i32) (local $i i32) (local $c i32) (local $n i32) (local $half i32) (local $base i32)
    (local $hrow i32) (local $col i32) (local $nb i32) (local $end i32) (local $seenCount i32)
    (local $rowBytes i32) (local $cnt i32) (local $ptr i32)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local $v v128) (local $u v128) (local $pv v128) (local $tv v128) (local $cv v128)
    (local $sum f32) (local $f f32) (local $tau f32) (local $tau1 f32) (local $tau2 f32) (local $tau3 f32)
    (local $base1 i32) (local $base2 i32) (local $base3 i32) (local $step i32) (local $off i32)
    (local $gb i32) (local $gscaled i32) (local $gsmax i32) (local $ginput i32) (local $gwx i32)
    (local $one v128) (local $gate v128) (local $drow i32) (local $top f32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (call $use (local.get $S))
    (local.set $rowBytes (i32.shl (global.get $Hp) (i32.const 2)))
    (local.set $deepest (i32.load offset=60 (local.get $S)))
    (local.set $seenCount (i32.load offset=44 (local.get $S)))
    ;; Depth mass at d = 1 .. depth: Σ_j of row d-1 of depthBuf in float32, in
    ;; order j, from +0 (padded lanes add +0). Lanes are four offsets d at a time:
    ;; 4×4 blocks of depthBuf are transposed so that each add takes one j.
    (local.set $d (i32.const 1))
    (block $massDone
      (loop $mass
        (br_if $massDone (i32.gt_s (local.get $d) (local.get $deepest)))
        (local.set $drow (i32.add (global.get $depthBuf) (i32.mul (i32.sub (local.get $d) (i32.const 1)) (local.get $rowBytes))))
        (local.set $acc0 (v128.const f32x4 0 0 0 0))
        (local.set $jo (i32.const 0))
        (loop $massLanes
          (local.set $ptr (i32.add (local.get $drow) (local.get $jo)))
          (local.set $r0 (v128.load (local.get $ptr)))
          (local.set $ptr (i32.add (local.get $ptr) (local.get $rowBytes)))
          (local.set $r1 (v128.load (local.get $ptr)))
          (local.set $ptr (i32.add (local.get $ptr) (local.get $rowBytes)))
          (local.set $r2 (v128.load (local.get $ptr)))
          (local.set $ptr (i32.add (local.get $ptr) (local.get $rowBytes)))
          (local.set $r3 (v128.load (local.get $ptr)))
          (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
          (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
          (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
          (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
          (local.set $acc0 (f32x4.add (local.get $acc0)
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2))))
          (local.set $acc0 (f32x4.add (local.get $acc0)
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2))))
          (local.set $acc0 (f32x4.add (local.get $acc0)
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3))))
          (local.set $acc0 (f32x4.add (local.get $acc0)
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3))))
          (local.set $jo (i32.add (local.get $jo) (i32.const 16)))
          (br_if $massLanes (i32.lt_u (local.get $jo) (local.get $rowBytes))))
        (v128.store (i32.add (global.get $depth) (i32.shl (local.get $d) (i32.const 2))) (local.get $acc0))
        (local.set $d (i32.add (local.get $d) (i32.const 4)))
        (br $mass)))

    ;; n_h: per receiving neuron i with a factor f, per τ, the count of its sorted
    ;; |Wh| row with float32(f·|w|) > τ: branch-free lower bounds, four τ at a
    ;; time (taus is padded to a multiple of four with +Infinity, which counts 0),
    ;; none once the row's largest product is not above the next τ.
    (local.set $i (i32.const 0))
    (block $nhDone
      (loop $nh
        (br_if $nhDone (i32.ge_u (local.get $i) (global.get $H)))
        (local.set $f (f32.load (i32.add (global.get $scaledMax) (i32.shl (local.get $i) (i32.const 2)))))
        (if (i32.and (f32.ne (local.get $f) (f32.const 0)) (i32.ne (global.get $T) (i32.const 0)))
          (then
            (local.set $w (i32.add (global.get $whSorted) (i32.shl (i32.mul (local.get $i) (global.get $H)) (i32.const 2))))
            (local.set $ptr (global.get $counts))
            (local.set $k (i32.const 0))
            ;; the row's largest product; τ ascending, so once it is not above a τ no later τ counts
            (local.set $top (f32.mul (local.get $f)
              (f32.load (i32.add (local.get $w) (i32.shl (i32.sub (global.get $H) (i32.const 1)) (i32.const 2))))))
            (block $nhTausDone
            (loop $nhTaus
              (br_if $nhTausDone (i32.eqz (f32.gt (local.get $top)
                (f32.load (i32.add (global.get $taus) (i32.shl (local.get $k) (i32.const 2)))))))
              (local.set $tau (f32.load offset=0 (i32.add (global.get $taus) (i32.shl (local.get $k) (i32.const 2)))))
              (local.set $tau1 (f32.load offset=4 (i32.add (global.get $taus) (i32.shl (local.get $k) (i32.const 2)))))
              (local.set $tau2 (f32.load offset=8 (i32.add (global.get $taus) (i32.shl (local.get $k) (i32.const 2)))))
              (local.set $tau3 (f32.load offset=12 (i32.add (global.get $taus) (i32.shl (local.get $k) (i32.const 2)))))
              (local.set $base (local.get $w))
              (local.set $base1 (local.get $w))
              (local.set $base2 (local.get $w))
              (local.set $base3 (local.get $w))
              (local.set $n (global.get $H))
              (block $searchDone
                (loop $search
                  (br_if $searchDone (i32.le_u (local.get $n) (i32.const 1)))
                  (local.set $half (i32.shr_u (local.get $n) (i32.const 1)))
                  (local.set $step (i32.shl (local.get $half) (i32.const 2)))
                  (local.set $off (i32.sub (local.get $step) (i32.const 4)))
                  (local.set $base (select (local.get $base) (i32.add (local.get $base) (local.get $step))
                    (f32.gt (f32.mul (local.get $f) (f32.load (i32.add (local.get $base) (local.get $off)))) (local.get $tau))))
                  (local.set $base1 (select (local.get $base1) (i32.add (local.get $base1) (local.get $step))
                    (f32.gt (f32.mul (local.get $f) (f32.load (i32.add (local.get $base1) (local.get $off)))) (local.get $tau1))))
                  (local.set $base2 (select (local.get $base2) (i32.add (local.get $base2) (local.get $step))
                    (f32.gt (f32.mul (local.get $f) (f32.load (i32.add (local.get $base2) (local.get $off)))) (local.get $tau2))))
                  (local.set $base3 (select (local.get $base3) (i32.add (local.get $base3) (local.get $step))
                    (f32.gt (f32.mul (local.get $f) (f32.load (i32.add (local.get $base3) (local.get $off)))) (local.get $tau3))))
                  (local.set $n (i32.sub (local.get $n) (local.get $half)))
                  (br $search)))
              ;; first index above τ = (base - w)/4 + (f·a[base] > τ ? 0 : 1); count = H - it
              (i32.store offset=4 (local.get $ptr) (i32.add (i32.load offset=4 (local.get $ptr))
                (i32.sub (i32.sub (global.get $H) (i32.shr_u (i32.sub (local.get $base) (local.get $w)) (i32.const 2)))
                  (i32.eqz (f32.gt (f32.mul (local.get $f) (f32.load (local.get $base))) (local.get $tau))))))
              (i32.store offset=16 (local.get $ptr) (i32.add (i32.load offset=16 (local.get $ptr))
                (i32.sub (i32.sub (global.get $H) (i32.shr_u (i32.sub (local.get $base1) (local.get $w)) (i32.const 2)))
                  (i32.eqz (f32.gt (f32.mul (local.get $f) (f32.load (local.get $base1))) (local.get $tau1))))))
              (i32.store offset=28 (local.get $ptr) (i32.add (i32.load offset=28 (local.get $ptr))
                (i32.sub (i32.sub (global.get $H) (i32.shr_u (i32.sub (local.get $base2) (local.get $w)) (i32.const 2)))
                  (i32.eqz (f32.gt (f32.mul (local.get $f) (f32.load (local.get $base2))) (local.get $tau2))))))
              (i32.store offset=40 (local.get $ptr) (i32.add (i32.load offset=40 (local.get $ptr))
                (i32.sub (i32.sub (global.get $H) (i32.shr_u (i32.sub (local.get $base3) (local.get $w)) (i32.const 2)))
                  (i32.eqz (f32.gt (f32.mul (local.get $f) (f32.load (local.get $base3))) (local.get $tau3))))))
              (local.set $ptr (i32.add (local.get $ptr) (i32.const 48)))
              (local.set $k (i32.add (local.get $k) (i32.const 4)))
              (br_if $nhTaus (i32.lt_u (local.get $k) (global.get $T)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $nh)))
    ;; Wh frequencies: per receiving neuron i with a factor f and frequency τ, the first
    ;; index of its sorted |Wh| row with float32(f·|w|) > τ, found by the same search
    ;; and comparisons as n_h (so the patterns counted are n_h's), counted in fWh.
    (local.set $i (i32.const 0))
    (block $fhDone
      (loop $fh
        (br_if $fhDone (i32.ge_u (local.get $i) (global.get $H)))
        (local.set $f (f32.load (i32.add (global.get $scaledMax) (i32.shl (local.get $i) (i32.const 2)))))
        (if (f32.ne (local.get $f) (f32.const 0))
          (then
            (local.set $w (i32.add (global.get $whSorted) (i32.shl (i32.mul (local.get $i) (global.get $H)) (i32.const 2))))
            (local.set $top (f32.mul (local.get $f)
              (f32.load (i32.add (local.get $w) (i32.shl (i32.sub (global.get $H) (i32.const 1)) (i32.const 2))))))
            (local.set $k (i32.const 0))
            (block $fhTausDone
              (loop $fhTaus
                (br_if $fhTausDone (i32.ge_u (local.get $k) (global.get $FT)))
                (local.set $tau (f32.load (i32.add (global.get $ftaus) (i32.shl (local.get $k) (i32.const 2)))))
                (if (f32.gt (local.get $top) (local.get $tau))
                  (then
                    (local.set $base (local.get $w))
                    (local.set $n (global.get $H))
                    (block $fsearchDone
                      (loop $fsearch
                        (br_if $fsearchDone (i32.le_u (local.get $n) (i32.const 1)))
                        (local.set $half (i32.shr_u (local.get $n) (i32.const 1)))
                        (local.set $step (i32.shl (local.get $half) (i32.const 2)))
                        (local.set $base (select (local.get $base) (i32.add (local.get $base) (local.get $step))
                          (f32.gt (f32.mul (local.get $f) (f32.load (i32.add (local.get $base) (i32.sub (local.get $step) (i32.const 4))))) (local.get $tau))))
                        (local.set $n (i32.sub (local.get $n) (local.get $half)))
                        (br $fsearch)))
                    ;; the first index above τ (top > τ: there is one)
                    (local.set $ptr (i32.add (i32.shr_u (i32.sub (local.get $base) (local.get $w)) (i32.const 2))
                      (i32.eqz (f32.gt (f32.mul (local.get $f) (f32.load (local.get $base))) (local.get $tau)))))
                    (local.set $ptr (i32.add (global.get $fWh) (i32.shl
                      (i32.add (i32.mul (i32.add (i32.mul (local.get $k) (global.get $H)) (local.get $i)) (global.get $Hp)) (local.get $ptr))
                      (i32.const 2))))
                    (i32.store (local.get $ptr) (i32.add (i32.load (local.get $ptr)) (i32.const 1)))))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $fhTaus)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fh)))
    (local.set $jo (i32.const 0))
    (loop $hmax
      (local.set $ptr (i32.add (global.get $rScaledMax) (local.get $jo)))
      (v128.store (local.get $ptr) (f32x4.pmax (v128.load (local.get $ptr))
        (v128.load (i32.add (global.get $scaledMax) (local.get $jo)))))
      (local.set $jo (i32.add (local.get $jo) (i32.const 16)))
      (br_if $hmax (i32.lt_u (local.get $jo) (local.get $rowBytes))))

    ;; n_x: the candidates float32(f·|Wx[j][c]|) of every (c, j) seen with f ≠ 0
    ;; (NaN where f = 0, which no comparison counts) go to nxBuf; the input
    ;; maxima are raised into the range's and cleared.
    (local.set $nb (global.get $nxBuf))
    (local.set $i (i32.const 0))
    (block $gatherDone
      (loop $gather
        (br_if $gatherDone (i32.ge_u (local.get $i) (local.get $seenCount)))
        (local.set $c (i32.load (i32.add (global.get $seenList) (i32.shl (local.get $i) (i32.const 2)))))
        (i32.store8 (i32.add (global.get $seen) (local.get $c)) (i32.const 0))
        (local.set $col (i32.mul (local.get $c) (local.get $rowBytes)))
        (local.set $jo (i32.const 0))
        (loop $gatherLanes
          (local.set $ptr (i32.add (i32.add (global.get $inputMax) (local.get $col)) (local.get $jo)))
          (local.set $v (v128.load (local.get $ptr)))
          (v128.store (local.get $ptr) (v128.const i32x4 0 0 0 0))
          (v128.store (local.get $nb) (v128.bitselect
            (f32x4.mul (local.get $v) (v128.load (i32.add (i32.add (global.get $wxAbs) (local.get $col)) (local.get $jo))))
            (v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000)
            (f32x4.ne (local.get $v) (v128.const f32x4 0 0 0 0))))
          (local.set $ptr (i32.add (i32.add (global.get $rInputMax) (local.get $col)) (local.get $jo)))
          (v128.store (local.get $ptr) (f32x4.pmax (v128.load (local.get $ptr)) (local.get $v)))
          (local.set $nb (i32.add (local.get $nb) (i32.const 16)))
          (local.set $jo (i32.add (local.get $jo) (i32.const 16)))
          (br_if $gatherLanes (i32.lt_u (local.get $jo) (local.get $rowBytes))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $gather)))
    (if (i32.gt_u (local.get $nb) (global.get $nxBuf))
      (then
        (local.set $k (i32.const 0))
        (block $nxDone
          (loop $nx
            (br_if $nxDone (i32.ge_u (local.get $k) (global.get $T)))
            (local.set $tv (f32x4.splat (f32.load (i32.add (global.get $taus) (i32.shl (local.get $k) (i32.const 2))))))
            (local.set $acc0 (v128.const i32x4 0 0 0 0))
            (local.set $acc1 (v128.const i32x4 0 0 0 0))
            (local.set $ptr (global.get $nxBuf))
            ;; nxBuf holds a multiple of Hp (32) floats: two vectors a step.
            (loop $nxLanes
              (local.set $acc0 (i32x4.sub (local.get $acc0) (f32x4.gt (v128.load offset=0 (local.get $ptr)) (local.get $tv))))
              (local.set $acc1 (i32x4.sub (local.get $acc1) (f32x4.gt (v128.load offset=16 (local.get $ptr)) (local.get $tv))))
              (local.set $ptr (i32.add (local.get $ptr) (i32.const 32)))
              (br_if $nxLanes (i32.lt_u (local.get $ptr) (local.get $nb))))
            (i32.store (i32.add (global.get $counts) (i32.mul (local.get $k) (i32.const 12)))
              (call $hsum (i32x4.add (local.get $acc0) (local.get $acc1))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $nx)))))
    ;; Wx frequencies: the candidates of nxBuf (block q: the byte seenList[q]) above
    ;; each frequency τ, as n_x counts them (NaN, where f = 0, never is).
    (local.set $k (i32.const 0))
    (block $fxDone
      (loop $fx
        (br_if $fxDone (i32.ge_u (local.get $k) (global.get $FT)))
        (local.set $tv (f32x4.splat (f32.load (i32.add (global.get $ftaus) (i32.shl (local.get $k) (i32.const 2))))))
        (local.set $ptr (global.get $nxBuf))
        (local.set $i (i32.const 0))
        (block $fxSeenDone
          (loop $fxSeen
            (br_if $fxSeenDone (i32.ge_u (local.get $i) (local.get $seenCount)))
            (local.set $c (i32.load (i32.add (global.get $seenList) (i32.shl (local.get $i) (i32.const 2)))))
            (local.set $w (i32.add (global.get $fWx)
              (i32.mul (i32.add (i32.shl (local.get $k) (i32.const 8)) (local.get $c)) (local.get $rowBytes))))
            (local.set $jo (i32.const 0))
            (loop $fxLanes
              (local.set $col (i32.add (local.get $w) (local.get $jo)))
              (v128.store (local.get $col) (i32x4.sub (v128.load (local.get $col))
                (f32x4.gt (v128.load (i32.add (local.get $ptr) (local.get $jo))) (local.get $tv))))
              (local.set $jo (i32.add (local.get $jo) (i32.const 16)))
              (br_if $fxLanes (i32.lt_u (local.get $jo) (local.get $rowBytes))))
            (local.set $ptr (i32.add (local.get $ptr) (local.get $rowBytes)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $fxSeen)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $fx)))))
