package verify

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// eachLine calls fn with every non-blank line of r and its 1-based number.
func eachLine(r io.Reader, fn func(n int, line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	return sc.Err()
}

// ReadTexts reads one JSON string per line, as `sie embed` does.
func ReadTexts(r io.Reader) ([]string, error) {
	var texts []string
	err := eachLine(r, func(n int, line []byte) error {
		var s string
		if err := json.Unmarshal(line, &s); err != nil {
			return fmt.Errorf("line %d: want a JSON string: %v", n, err)
		}
		texts = append(texts, s)
		return nil
	})
	return texts, err
}

// ReadVectors reads one vector per line: a JSON array of numbers, or an
// object whose "embedding" field is one (the shape most exports have).
func ReadVectors(r io.Reader) ([][]float32, error) {
	var vecs [][]float32
	err := eachLine(r, func(n int, line []byte) error {
		var v []float32
		if line[0] == '{' {
			var o struct {
				Embedding []float32 `json:"embedding"`
			}
			if err := json.Unmarshal(line, &o); err != nil {
				return fmt.Errorf("line %d: %v", n, err)
			}
			if o.Embedding == nil {
				return fmt.Errorf("line %d: the object has no \"embedding\" field", n)
			}
			v = o.Embedding
		} else if err := json.Unmarshal(line, &v); err != nil {
			return fmt.Errorf("line %d: want a JSON array of numbers or an object with \"embedding\": %v", n, err)
		}
		vecs = append(vecs, v)
		return nil
	})
	return vecs, err
}

// Doc is one query or corpus entry of a labelled set.
type Doc struct {
	ID   string
	Text string
}

// ReadDocs reads a BEIR queries.jsonl or corpus.jsonl: one object per line
// with "_id", "text" and optionally "title" (joined to the text with a space,
// as BEIR's dense retrievers do). A line that is a plain JSON string is a
// text whose id is its 0-based position among the entries.
func ReadDocs(r io.Reader) ([]Doc, error) {
	var docs []Doc
	err := eachLine(r, func(n int, line []byte) error {
		if line[0] == '"' {
			var s string
			if err := json.Unmarshal(line, &s); err != nil {
				return fmt.Errorf("line %d: %v", n, err)
			}
			docs = append(docs, Doc{ID: strconv.Itoa(len(docs)), Text: s})
			return nil
		}
		var o struct {
			ID    json.RawMessage `json:"_id"`
			Title string          `json:"title"`
			Text  string          `json:"text"`
		}
		if err := json.Unmarshal(line, &o); err != nil {
			return fmt.Errorf("line %d: want an object with \"_id\" and \"text\": %v", n, err)
		}
		id, err := idString(o.ID)
		if err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		text := o.Text
		if o.Title != "" {
			text = strings.TrimSpace(o.Title + " " + o.Text)
		}
		docs = append(docs, Doc{ID: id, Text: text})
		return nil
	})
	return docs, err
}

// idString accepts string or numeric ids.
func idString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", fmt.Errorf("missing \"_id\"")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var f json.Number
	if err := json.Unmarshal(raw, &f); err != nil {
		return "", fmt.Errorf("\"_id\" is neither a string nor a number")
	}
	return f.String(), nil
}

// Qrels maps a query id to its judged documents and their relevance grades.
type Qrels map[string]map[string]int

// ReadQrels reads a BEIR qrels TSV: query-id, corpus-id, score per line,
// with an optional header line. Whitespace other than tabs also separates.
func ReadQrels(r io.Reader) (Qrels, error) {
	q := Qrels{}
	err := eachLine(r, func(n int, line []byte) error {
		f := strings.Fields(string(line))
		if len(f) != 3 {
			return fmt.Errorf("line %d: want query-id, corpus-id and score, got %d fields", n, len(f))
		}
		grade, err := strconv.Atoi(f[2])
		if err != nil {
			if n == 1 { // the header: query-id corpus-id score
				return nil
			}
			return fmt.Errorf("line %d: score %q is not an integer", n, f[2])
		}
		if q[f[0]] == nil {
			q[f[0]] = map[string]int{}
		}
		q[f[0]][f[1]] = grade
		return nil
	})
	return q, err
}

// readFile opens path and applies read.
func readFile[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// ReadTextsFile, ReadVectorsFile, ReadDocsFile and ReadQrelsFile read the
// named file.
func ReadTextsFile(path string) ([]string, error)      { return readFile(path, ReadTexts) }
func ReadVectorsFile(path string) ([][]float32, error) { return readFile(path, ReadVectors) }
func ReadDocsFile(path string) ([]Doc, error)          { return readFile(path, ReadDocs) }
func ReadQrelsFile(path string) (Qrels, error)         { return readFile(path, ReadQrels) }
