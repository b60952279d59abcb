package verify

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
)

// CompareOptions tunes Compare. The zero value is the default.
type CompareOptions struct {
	// IsQuery embeds the texts as queries on both legs.
	IsQuery bool
	// MinCosine is the lowest per-item cosine that passes (0: 0.999).
	MinCosine float64
	// MaxNormDiff is the largest relative difference of an item's vector
	// norms that passes (0: 0.01). Cosine cannot see a leg that skips
	// normalisation, but dot-product scores and stored indexes can.
	MaxNormDiff float64
	// Worst is how many of the lowest-cosine items the report lists (0: 5).
	Worst int
	// Batch is the number of texts per sie call (0: 64); the other leg's
	// batches are capped at its API's request limit.
	Batch int
	// Progress, when set, is called as texts are embedded: done of total,
	// counting both legs.
	Progress func(done, total int)
}

func (o CompareOptions) withDefaults() CompareOptions {
	if o.MinCosine == 0 {
		o.MinCosine = 0.999
	}
	if o.MaxNormDiff == 0 {
		o.MaxNormDiff = 0.01
	}
	if o.Worst == 0 {
		o.Worst = 5
	}
	if o.Batch == 0 {
		o.Batch = 64
	}
	return o
}

// Report is the outcome of Compare.
type Report struct {
	Count     int     `json:"count"`
	Min       float64 `json:"min"`
	P1        float64 `json:"p1"`
	Mean      float64 `json:"mean"`
	Threshold float64 `json:"min_cosine"`
	// Failing counts the items below Threshold or whose norms differ by
	// more than MaxNormDiff.
	Failing int  `json:"failing"`
	Pass    bool `json:"pass"`
	// SieNorms and OtherNorms are the smallest and largest vector norm on
	// each leg.
	SieNorms   [2]float64 `json:"sie_norms"`
	OtherNorms [2]float64 `json:"other_norms"`
	Worst      []Item     `json:"worst"`
	Hints      []string   `json:"hints,omitempty"`
	// Cosines holds every item's cosine in corpus order.
	Cosines []float64 `json:"-"`
}

// Item is one compared text.
type Item struct {
	Index  int     `json:"index"`
	Cosine float64 `json:"cosine"`
	// NormRatio is the sie vector's norm over the other leg's.
	NormRatio float64 `json:"norm_ratio"`
	Chars     int     `json:"chars"`
	Text      string  `json:"text"` // shortened for display
}

// otherBatch is the request size for the other leg.
func otherBatch(leg Leg, batch int) int {
	if h, ok := leg.(HTTPLeg); ok {
		return min(batch, h.API.batch())
	}
	return batch
}

// Compare embeds texts with the sie leg and the other leg and reports their
// per-item agreement. It returns an error when a leg fails or the legs'
// dimensions differ (not the same checkpoint: use Retrieval).
func Compare(ctx context.Context, texts []string, sieLeg, other Leg, opts CompareOptions) (*Report, error) {
	opts = opts.withDefaults()
	if len(texts) == 0 {
		return nil, fmt.Errorf("the corpus is empty")
	}
	total := 2 * len(texts)
	prog := func(offset int) func(int) {
		if opts.Progress == nil {
			return nil
		}
		return func(done int) { opts.Progress(offset+done, total) }
	}
	a, err := embedAll(ctx, sieLeg, texts, opts.IsQuery, opts.Batch, prog(0))
	if err != nil {
		return nil, fmt.Errorf("sie leg: %w", err)
	}
	b, err := embedAll(ctx, other, texts, opts.IsQuery, otherBatch(other, opts.Batch), prog(len(texts)))
	if err != nil {
		return nil, fmt.Errorf("other leg: %w", err)
	}
	return compareVectors(texts, a, b, opts)
}

func compareVectors(texts []string, a, b [][]float32, opts CompareOptions) (*Report, error) {
	n := len(texts)
	r := &Report{Count: n, Threshold: opts.MinCosine, Cosines: make([]float64, n)}
	items := make([]Item, n)
	sieNorms, otherNorms := make([]float64, n), make([]float64, n)
	sum := 0.0
	for i := range n {
		if len(a[i]) != len(b[i]) {
			return nil, fmt.Errorf("item %d: sie gives %d dimensions and the other leg %d: not the same checkpoint (compare retrieval quality with --baseline instead)", i, len(a[i]), len(b[i]))
		}
		cos, na, nb := cosine(a[i], b[i])
		ratio := 0.0
		if nb > 0 {
			ratio = na / nb
		}
		items[i] = Item{Index: i, Cosine: cos, NormRatio: ratio, Chars: len([]rune(texts[i])), Text: shorten(texts[i], 60)}
		r.Cosines[i] = cos
		sieNorms[i], otherNorms[i] = na, nb
		sum += cos
		if cos < opts.MinCosine || math.Abs(ratio-1) > opts.MaxNormDiff {
			r.Failing++
		}
	}
	sorted := slices.Clone(r.Cosines)
	sort.Float64s(sorted)
	r.Min = sorted[0]
	r.P1 = sorted[percentileIndex(n, 0.01)]
	r.Mean = sum / float64(n)
	r.SieNorms = [2]float64{slices.Min(sieNorms), slices.Max(sieNorms)}
	r.OtherNorms = [2]float64{slices.Min(otherNorms), slices.Max(otherNorms)}
	r.Pass = r.Failing == 0
	byCos := slices.Clone(items)
	sort.SliceStable(byCos, func(i, j int) bool { return byCos[i].Cosine < byCos[j].Cosine })
	r.Worst = byCos[:min(opts.Worst, n)]
	if !r.Pass {
		r.Hints = hints(r, items, sieNorms, otherNorms, opts)
	}
	return r, nil
}

// percentileIndex is the nearest-rank index of quantile q in n sorted values.
func percentileIndex(n int, q float64) int {
	i := int(math.Ceil(q*float64(n))) - 1
	return max(0, min(i, n-1))
}

func cosine(a, b []float32) (cos, na, nb float64) {
	var dot float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	na, nb = math.Sqrt(na), math.Sqrt(nb)
	if na == 0 || nb == 0 {
		return 0, na, nb
	}
	return dot / (na * nb), na, nb
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// unit reports whether every norm is 1 to within tol.
func unit(norms []float64, tol float64) bool {
	for _, v := range norms {
		if math.Abs(v-1) > tol {
			return false
		}
	}
	return true
}

// hints reads the pattern of the differences: which of the usual causes
// (normalisation, a prefix or prompt, truncation length) it points at.
func hints(r *Report, items []Item, sieNorms, otherNorms []float64, opts CompareOptions) []string {
	var out []string
	normBad := 0
	for _, it := range items {
		if math.Abs(it.NormRatio-1) > opts.MaxNormDiff {
			normBad++
		}
	}
	if normBad > 0 {
		sieUnit, otherUnit := unit(sieNorms, 1e-3), unit(otherNorms, 1e-3)
		switch {
		case sieUnit && !otherUnit:
			out = append(out, fmt.Sprintf("normalisation: sie's vectors are unit length but the other leg's are not (norms %.4g to %.4g): the old system did not normalise. Cosine scores agree, dot-product scores and stored indexes do not: normalise the old vectors or re-embed", r.OtherNorms[0], r.OtherNorms[1]))
		case otherUnit && !sieUnit:
			out = append(out, fmt.Sprintf("normalisation: the other leg's vectors are unit length but sie's are not (norms %.4g to %.4g): the checkpoint has no Normalize module and the old system normalised. Normalise sie's vectors before storing or comparing by dot product", r.SieNorms[0], r.SieNorms[1]))
		default:
			out = append(out, fmt.Sprintf("normalisation: the vector norms differ in %d of %d items (sie %.4g to %.4g, other %.4g to %.4g): the legs scale vectors differently", normBad, r.Count, r.SieNorms[0], r.SieNorms[1], r.OtherNorms[0], r.OtherNorms[1]))
		}
	}
	var low, high []Item
	for _, it := range items {
		if it.Cosine < opts.MinCosine {
			low = append(low, it)
		} else {
			high = append(high, it)
		}
	}
	if len(low) == 0 {
		return out
	}
	mean, sd := meanSD(r.Cosines)
	switch {
	case mean < 0.3:
		out = append(out, fmt.Sprintf("different model: the mean cosine is %.3f, far below what one checkpoint gives; check both legs load the same model with the same pooling, or compare retrieval quality with --baseline", mean))
	case 2*len(low) >= len(items) && mean < 0.7:
		out = append(out, fmt.Sprintf("pooling: every item differs, by a lot (cosine %.4f ± %.4f): the legs most likely pool differently (the CLS token against the mean of the tokens — fastembed-go pools CLS for every model) or run different checkpoints; a long instruction prefix on one side can also do this", mean, sd))
	case 2*len(low) >= len(items):
		out = append(out, fmt.Sprintf("prefix: %d of %d items fall short, by a similar amount (cosine %.4f ± %.4f): every input differs in the same way, most often a prefix or prompt one leg adds (\"query: \", \"passage: \", an instruction, the checkpoint's prompt template). Remove hand-typed prefixes, check --query, or embed with no prompt (--no-prompt, sie.NoPrompt())", len(low), len(items), mean, sd))
	default:
		lowMed := medianChars(low)
		allMed := medianChars(items)
		if len(high) > 0 && lowMed > 2*allMed {
			out = append(out, fmt.Sprintf("truncation: only %d of %d items are far off and they are long ones (median %d characters, against %d over the corpus): the legs truncate at different lengths (max_seq_length, TEI's --auto-truncate and max input length, a provider's token limit)", len(low), len(items), lowMed, allMed))
		} else {
			out = append(out, fmt.Sprintf("a few items differ: %d of %d fall short of %.4g; look at the worst ones for encoding, empty or unusual text", len(low), len(items), opts.MinCosine))
		}
	}
	return out
}

func meanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(v)))
}

func medianChars(items []Item) int {
	c := make([]int, len(items))
	for i, it := range items {
		c[i] = it.Chars
	}
	slices.Sort(c)
	return c[len(c)/2]
}
