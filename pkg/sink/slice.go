package sink

// Batch shaping of Deimos's ActiveRecordConsumer in batch mode
// (docs/deimos-compat.md §7):
// compaction keeps the last message per key; without it the BatchSlicer
// splits a batch into slices that each hold at most one message per key.

// Compact keeps only the last item per key, preserving the order of the
// survivors (each survivor stays where its last occurrence was).
func Compact[T any](items []T, key func(T) string) []T {
	last := make(map[string]int, len(items))
	for i, it := range items {
		last[key(it)] = i
	}
	out := make([]T, 0, len(last))
	for i, it := range items {
		if last[key(it)] == i {
			out = append(out, it)
		}
	}
	return out
}

// Slice is Deimos's BatchSlicer: slice i holds the i-th message of every key
// group, key groups in order of first appearance. A1 A2 B1 C1 C2 C3 gives
// [A1 B1 C1], [A2 C2], [C3]. Writing the slices in order keeps per-key order.
func Slice[T any](items []T, key func(T) string) [][]T {
	var order []string
	groups := map[string][]T{}
	for _, it := range items {
		k := key(it)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], it)
	}
	var out [][]T
	for i := 0; ; i++ {
		var s []T
		for _, k := range order {
			if g := groups[k]; i < len(g) {
				s = append(s, g[i])
			}
		}
		if len(s) == 0 {
			return out
		}
		out = append(out, s)
	}
}
