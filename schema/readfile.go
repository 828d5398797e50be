package schema

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// readFile reads path and decodes it with decode, the one way every Read*
// of this package reads its file: an I/O error says which kind of file,
// a decoding error names the path.
func readFile[T any](path, kind string, decode func(io.Reader) (*T, error)) (*T, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schema: %s%w", kind, err)
	}
	v, err := decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
