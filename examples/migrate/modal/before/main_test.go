package main

import (
	"reflect"
	"strings"
	"testing"
)

// The deployed function itself cannot run offline; the conversion of its
// CBOR-decoded result can.
func TestToVectors(t *testing.T) {
	got, err := toVectors([]any{[]any{0.5, float32(-0.25), int64(1)}, []any{uint64(2), 0.125, -1.0}})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{0.5, -0.25, 1}, {2, 0.125, -1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []any{map[string]any{}, []any{"x"}, []any{[]any{"1"}}} {
		if _, err := toVectors(bad); err == nil || !strings.Contains(err.Error(), "want") {
			t.Errorf("%v: error %v", bad, err)
		}
	}
}
