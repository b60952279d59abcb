package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOpenAPIMatchesRoutes: /openapi.json describes exactly the routes
// registered, and passes a structural OpenAPI 3.1 check.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := testServer(t, Options{})
	for _, p := range s.patterns {
		if _, ok := docs[p]; !ok {
			t.Errorf("route %q is served but not described for OpenAPI", p)
		}
	}
	for p := range docs {
		if !slices.Contains(s.patterns, p) {
			t.Errorf("OpenAPI describes %q, which is not served", p)
		}
	}
	code, _, body := do(t, s, "GET", "/openapi.json", "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var doc map[string]any
	mustJSON(t, body, &doc)
	var served []string
	for _, p := range s.patterns {
		m, path, _ := strings.Cut(p, " ")
		served = append(served, strings.ToLower(m)+" "+strings.ReplaceAll(path, "...}", "}"))
	}
	var described []string
	for path, item := range doc["paths"].(map[string]any) {
		for m := range item.(map[string]any) {
			described = append(described, m+" "+path)
		}
	}
	slices.Sort(served)
	slices.Sort(described)
	if !slices.Equal(served, described) {
		t.Errorf("paths differ from the routes:\nserved    %v\ndescribed %v", served, described)
	}
	for _, err := range checkOpenAPI31(doc) {
		t.Error(err)
	}
}

// checkOpenAPI31 is a structural check of an OpenAPI 3.1 document: the
// required fields and their types, operations, responses, path parameters,
// unique operation ids, JSON Schema types, and that every $ref resolves.
func checkOpenAPI31(doc map[string]any) []string {
	var errs []string
	fail := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	if v, _ := doc["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		fail("openapi = %q, want 3.1.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if _, ok := info["title"].(string); !ok {
		fail("info.title missing")
	}
	if _, ok := info["version"].(string); !ok {
		fail("info.version missing")
	}
	comps, _ := doc["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	validTypes := []string{"string", "number", "integer", "boolean", "array", "object", "null"}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				name, found := strings.CutPrefix(ref, "#/components/schemas/")
				if _, ok := schemas[name]; !found || !ok {
					fail("%s: $ref %q does not resolve", where, ref)
				}
			}
			switch ty := x["type"].(type) {
			case string:
				if !slices.Contains(validTypes, ty) {
					fail("%s: type %q", where, ty)
				}
			case []any:
				for _, e := range ty {
					if s, _ := e.(string); !slices.Contains(validTypes, s) {
						fail("%s: type %v", where, e)
					}
				}
			}
			for k, e := range x {
				walk(where+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(where, e)
			}
		}
	}
	walk("components.schemas", schemas)
	paths, _ := doc["paths"].(map[string]any)
	if len(paths) == 0 {
		fail("no paths")
	}
	ids := map[string]bool{}
	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	for path, item := range paths {
		if !strings.HasPrefix(path, "/") {
			fail("path %q does not start with /", path)
		}
		want := regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1)
		for m, opv := range item.(map[string]any) {
			if !slices.Contains(methods, m) {
				fail("%s: unknown method %q", path, m)
				continue
			}
			op := opv.(map[string]any)
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] {
				fail("%s %s: operationId %q missing or repeated", m, path, id)
			}
			ids[id] = true
			resps, _ := op["responses"].(map[string]any)
			if len(resps) == 0 {
				fail("%s %s: no responses", m, path)
			}
			for code, r := range resps {
				if !regexp.MustCompile(`^([1-5]\d\d|[1-5]XX|default)$`).MatchString(code) {
					fail("%s %s: response key %q", m, path, code)
				}
				if d, _ := r.(map[string]any)["description"].(string); d == "" {
					fail("%s %s %s: response without description", m, path, code)
				}
			}
			var params []string
			if ps, ok := op["parameters"].([]any); ok {
				for _, p := range ps {
					pm := p.(map[string]any)
					if pm["in"] == "path" && pm["required"] != true {
						fail("%s %s: path parameter not required", m, path)
					}
					params = append(params, pm["name"].(string))
				}
			}
			for _, w := range want {
				if !slices.Contains(params, w[1]) {
					fail("%s %s: path parameter %q not declared", m, path, w[1])
				}
			}
			if rb, ok := op["requestBody"].(map[string]any); ok {
				if _, ok := rb["content"].(map[string]any); !ok {
					fail("%s %s: requestBody without content", m, path)
				}
			}
			walk(m+" "+path, op)
		}
	}
	return errs
}

// TestDocsInChromium loads /docs in headless Chromium: it renders every
// route from /openapi.json and its example request for /v1/embeddings
// succeeds. CI installs Chromium (scripts/setup-test-deps.sh) and must not
// skip; elsewhere the test skips when Chromium is absent.
func TestDocsInChromium(t *testing.T) {
	bin := ""
	for _, b := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(b); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (scripts/setup-test-deps.sh installs it)")
		}
		t.Skip("chromium is not installed")
	}
	s := testServer(t, Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--virtual-time-budget=15000", "--dump-dom",
		ts.URL+"/docs?run=/v1/embeddings")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	dom := string(out)
	for p := range docs {
		m, path, _ := strings.Cut(p, " ")
		if !strings.Contains(dom, `data-route="`+m+" "+strings.ReplaceAll(path, "...}", "}")+`"`) {
			t.Errorf("/docs does not list %s", p)
		}
	}
	re := regexp.MustCompile(`<pre data-result="POST /v1/embeddings" data-status="(\d+)">([^<]*)`)
	m := re.FindStringSubmatch(dom)
	if m == nil || m[1] != "200" || !strings.Contains(m[2], `"embedding"`) {
		t.Errorf("the /v1/embeddings example did not succeed: %v\n%.2000s", m, dom)
	}
}
