// This module boundary keeps sie's test fixtures (model weights) out of the
// sie module zip, so `go get` stays light.
module github.com/sie-project/sie/testdata
