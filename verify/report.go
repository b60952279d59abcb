package verify

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes r for people: the summary, the worst items and hints.
func (r *Report) WriteTable(w io.Writer) error {
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d items agree at cosine >= %g\n\n", verdict, r.Count-r.Failing, r.Count, r.Threshold)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "items\tmin\tp1\tmean\tsie norms\tother norms\n")
	fmt.Fprintf(tw, "%d\t%.6f\t%.6f\t%.6f\t%.4g–%.4g\t%.4g–%.4g\n", r.Count, r.Min, r.P1, r.Mean,
		r.SieNorms[0], r.SieNorms[1], r.OtherNorms[0], r.OtherNorms[1])
	tw.Flush()
	fmt.Fprintf(&b, "\nworst items\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  #\tcosine\tnorm ratio\tchars\ttext\n")
	for _, it := range r.Worst {
		fmt.Fprintf(tw, "  %d\t%.6f\t%.4f\t%d\t%q\n", it.Index, it.Cosine, it.NormRatio, it.Chars, it.Text)
	}
	tw.Flush()
	for _, h := range r.Hints {
		fmt.Fprintf(&b, "\nhint: %s\n", h)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteTable writes r for people: per query and overall, both legs side by
// side with the difference.
func (r *RetrievalReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d judged queries, %d corpus documents\n\n", r.Queries, r.Corpus)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	rec := fmt.Sprintf("recall@%d", r.K)
	fmt.Fprintf(tw, "query\tsie %s\tbase %s\tdiff\tsie nDCG@10\tbase nDCG@10\tdiff\tsie MRR@10\tbase MRR@10\tdiff\t\n", rec, rec)
	row := func(id string, s, base, d Metrics) {
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%+.4f\t%.4f\t%.4f\t%+.4f\t%.4f\t%.4f\t%+.4f\t\n", id,
			s.Recall, base.Recall, d.Recall, s.NDCG10, base.NDCG10, d.NDCG10, s.MRR10, base.MRR10, d.MRR10)
	}
	for _, q := range r.PerQuery {
		row(q.ID, q.Sie, q.Baseline, q.Diff)
	}
	row("overall", r.Sie, r.Baseline, r.Diff)
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}
