module github.com/sie-project/sie

go 1.26.8

require (
	github.com/gomlx/gomlx v0.28.2 // indirect
	golang.org/x/sync v0.25.0 // indirect
)
