package sie

import (
	"path"
	"path/filepath"

	"github.com/sie-project/sie/catalog"
)

// moduleFiles lists the files beyond checkpointFilesOptional that a
// downloaded checkpoint in dir may need, once its modules.json is there:
// each sentence-transformers module folder's config and weights (Pooling,
// Dense such as stella's 2_Dense_1024, SpladePooling, PyLate Dense), and the
// heads the catalog entry declares (BGE-M3's sparse_linear and
// colbert_linear, Stanford ColBERT's artifact.metadata, SPLADE query weights). All are optional: a file the
// repository lacks is skipped.
func moduleFiles(dir string, e *catalog.Entry) []string {
	var files []string
	var modules []stModule
	if found, err := readJSON(filepath.Join(dir, "modules.json"), &modules); err == nil && found {
		for _, m := range modules {
			if m.Path == "" || !filepath.IsLocal(m.Path) {
				continue
			}
			for _, f := range []string{"config.json", "model.safetensors", "pytorch_model.bin"} {
				files = append(files, path.Join(m.Path, f))
			}
		}
	}
	if e != nil && e.Outputs.Sparse > 0 {
		files = append(files, "sparse_linear.safetensors", "sparse_linear.pt", "idf.json", "query_token_weights.txt")
	}
	if e != nil && e.Outputs.Multivector > 0 {
		// BGE-M3's head; Stanford ColBERT's settings (colbert_stanford.go).
		files = append(files, "colbert_linear.safetensors", "colbert_linear.pt", "artifact.metadata")
	}
	return files
}
