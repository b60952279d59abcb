package verify

import (
	"context"
	"fmt"
	"math"
	"sort"
)

// RetrievalOptions tunes Retrieval. The zero value is the default.
type RetrievalOptions struct {
	// K is the cut-off for recall@k (0: 10). nDCG and MRR are always at 10.
	K int
	// Batch is the number of texts per sie call (0: 64).
	Batch int
	// Progress, when set, is called as texts are embedded: done of total,
	// counting queries and corpus on both legs.
	Progress func(done, total int)
}

// Metrics are one leg's scores on one query, or their mean over queries.
type Metrics struct {
	Recall float64 `json:"recall"` // recall@K
	NDCG10 float64 `json:"ndcg@10"`
	MRR10  float64 `json:"mrr@10"`
}

func (m Metrics) minus(o Metrics) Metrics {
	return Metrics{m.Recall - o.Recall, m.NDCG10 - o.NDCG10, m.MRR10 - o.MRR10}
}

// QueryResult holds both legs' metrics on one query.
type QueryResult struct {
	ID       string  `json:"id"`
	Sie      Metrics `json:"sie"`
	Baseline Metrics `json:"baseline"`
	Diff     Metrics `json:"diff"` // sie − baseline
}

// RetrievalReport is the outcome of Retrieval: means over the judged queries.
type RetrievalReport struct {
	K        int           `json:"k"`
	Queries  int           `json:"queries"`
	Corpus   int           `json:"corpus"`
	Sie      Metrics       `json:"sie"`
	Baseline Metrics       `json:"baseline"`
	Diff     Metrics       `json:"diff"`
	PerQuery []QueryResult `json:"per_query"`
}

// Retrieval ranks the corpus for every judged query by cosine similarity on
// each leg and scores both rankings against qrels (grades > 0 are
// relevant). Queries without a relevant judgement are left out, as BEIR's
// evaluation does. Each leg embeds the queries first, then the corpus, so a
// FileLeg baseline holds the query vectors followed by the corpus vectors.
func Retrieval(ctx context.Context, queries, corpus []Doc, qrels Qrels, sieLeg, baseline Leg, opts RetrievalOptions) (*RetrievalReport, error) {
	if opts.K == 0 {
		opts.K = 10
	}
	if opts.Batch == 0 {
		opts.Batch = 64
	}
	if len(corpus) == 0 {
		return nil, fmt.Errorf("the corpus is empty")
	}
	var judged []Doc
	for _, q := range queries {
		for _, g := range qrels[q.ID] {
			if g > 0 {
				judged = append(judged, q)
				break
			}
		}
	}
	if len(judged) == 0 {
		return nil, fmt.Errorf("no query has a relevant document in the qrels")
	}
	total := 2 * (len(queries) + len(corpus))
	done := 0
	prog := func() func(int) {
		if opts.Progress == nil {
			return nil
		}
		base := done
		return func(d int) { opts.Progress(base+d, total) }
	}
	qTexts, cTexts := texts(queries), texts(corpus)
	legs := []Leg{sieLeg, baseline}
	var rankings [2][][]int
	for li, leg := range legs {
		batch := opts.Batch
		if li == 1 {
			batch = otherBatch(leg, batch)
		}
		name := [2]string{"sie leg", "baseline leg"}[li]
		qv, err := embedAll(ctx, leg, qTexts, true, batch, prog())
		if err != nil {
			return nil, fmt.Errorf("%s, queries: %w", name, err)
		}
		done += len(qTexts)
		cv, err := embedAll(ctx, leg, cTexts, false, batch, prog())
		if err != nil {
			return nil, fmt.Errorf("%s, corpus: %w", name, err)
		}
		done += len(cTexts)
		byID := map[string]int{}
		for i, q := range queries {
			byID[q.ID] = i
		}
		for _, q := range judged {
			r, err := rank(qv[byID[q.ID]], cv)
			if err != nil {
				return nil, fmt.Errorf("%s, query %q: %w", name, q.ID, err)
			}
			rankings[li] = append(rankings[li], r)
		}
	}
	rep := &RetrievalReport{K: opts.K, Queries: len(judged), Corpus: len(corpus)}
	for qi, q := range judged {
		var m [2]Metrics
		for li := range legs {
			ids := make([]string, len(rankings[li][qi]))
			for i, c := range rankings[li][qi] {
				ids[i] = corpus[c].ID
			}
			m[li] = Score(ids, qrels[q.ID], opts.K)
		}
		rep.PerQuery = append(rep.PerQuery, QueryResult{ID: q.ID, Sie: m[0], Baseline: m[1], Diff: m[0].minus(m[1])})
		rep.Sie = add(rep.Sie, m[0])
		rep.Baseline = add(rep.Baseline, m[1])
	}
	n := float64(len(judged))
	rep.Sie = Metrics{rep.Sie.Recall / n, rep.Sie.NDCG10 / n, rep.Sie.MRR10 / n}
	rep.Baseline = Metrics{rep.Baseline.Recall / n, rep.Baseline.NDCG10 / n, rep.Baseline.MRR10 / n}
	rep.Diff = rep.Sie.minus(rep.Baseline)
	return rep, nil
}

func add(a, b Metrics) Metrics {
	return Metrics{a.Recall + b.Recall, a.NDCG10 + b.NDCG10, a.MRR10 + b.MRR10}
}

func texts(docs []Doc) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.Text
	}
	return out
}

// rank orders the corpus by cosine similarity to q, best first; ties keep
// corpus order.
func rank(q []float32, corpus [][]float32) ([]int, error) {
	scores := make([]float64, len(corpus))
	for i, c := range corpus {
		if len(c) != len(q) {
			return nil, fmt.Errorf("query has %d dimensions, corpus item %d has %d", len(q), i, len(c))
		}
		scores[i], _, _ = cosine(q, c)
	}
	idx := make([]int, len(corpus))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	return idx, nil
}

// Score computes recall@k, nDCG@10 and MRR@10 of a ranking (corpus ids, best
// first) against one query's judgements. nDCG uses the grades as linear
// gains with a log2(rank+1) discount, as trec_eval (and so BEIR) does.
func Score(ranking []string, judged map[string]int, k int) Metrics {
	relevant := 0
	var grades []int
	for _, g := range judged {
		if g > 0 {
			relevant++
			grades = append(grades, g)
		}
	}
	var m Metrics
	if relevant == 0 {
		return m
	}
	hits := 0
	for i := 0; i < k && i < len(ranking); i++ {
		if judged[ranking[i]] > 0 {
			hits++
		}
	}
	m.Recall = float64(hits) / float64(relevant)
	dcg := 0.0
	for i := 0; i < 10 && i < len(ranking); i++ {
		if g := judged[ranking[i]]; g > 0 {
			dcg += float64(g) / math.Log2(float64(i+2))
			if m.MRR10 == 0 {
				m.MRR10 = 1 / float64(i+1)
			}
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(grades)))
	idcg := 0.0
	for i := 0; i < 10 && i < len(grades); i++ {
		idcg += float64(grades[i]) / math.Log2(float64(i+2))
	}
	m.NDCG10 = dcg / idcg
	return m
}
