.PHONY: test bench lint demo fuzz

test:
	scripts/test.sh

bench:
	scripts/bench.sh

lint:
	gofmt -l . | (! grep .) || (echo "gofmt: files above need formatting" && false)
	go vet ./...

demo:
	scripts/demo.sh

# Short fuzzing pass over every fuzz target (FUZZTIME per target).
fuzz:
	scripts/fuzz.sh
