# hooks-ratio.awk summarizes run-hooks.sh: per benchmark, the median of
# the same-round ratios to the reference variant (base for verify, none for
# otel), with their range, and the median CPU µs per verification.
!/^#/ && NF == 4 {
	ref = ($2 ~ /^verify/) ? "base" : "none"
	us[$2, $3, $1] = $4
	if (!(($2, $3) in seen)) { seen[$2, $3] = 1; order[++n] = $2 SUBSEP $3 }
	if ($1 > rounds) rounds = $1
	refof[$2] = ref
}
function median(a, k,   i, j, t) {
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
	for (i = 1; i <= n; i++) {
		split(order[i], p, SUBSEP)
		b = p[1]; v = p[2]; ref = refof[b]
		k = 0; m = 0; delete rs; delete abs
		for (r = 1; r <= rounds; r++) {
			if (((b, v, r) in us) && ((b, ref, r) in us) && us[b, ref, r] > 0) {
				rs[++k] = us[b, v, r] / us[b, ref, r]
				abs[++m] = us[b, v, r]
			}
		}
		if (k == 0) continue
		med = median(rs, k); lo = rs[1]; hi = rs[k]
		printf "%-14s %-15s %6.1f µs  %.3fx of %s (%.3f-%.3f, %d rounds)\n", b, v, median(abs, m), med, ref, lo, hi, k
	}
}
