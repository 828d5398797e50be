package schema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// LedgerScanner reads a ledger one record at a time, on the caller's pull
// (bufio.Scanner's shape), from one file or from a directory of rotated files
// oldest first: the simulator's trace source and gwlab replay read with it,
// and ReadLedger and ReadLedgerFile are built on it. A torn last line of a
// file is skipped and listed in Stats; any other line that is not a record
// stops the scan with an error naming the file and the line
// (ErrLedgerDamaged). Only one line is in memory at a time. It is not safe
// for concurrent use.
//
//	sc, err := schema.NewLedgerScanner("ledger")
//	if err != nil { ... }
//	defer sc.Close()
//	for sc.Scan() {
//		r := sc.Record()
//		...
//	}
//	if err := sc.Err(); err != nil { ... }
type LedgerScanner struct {
	files []string
	fi    int

	f    *os.File
	br   *bufio.Reader
	name string
	// start is the offset of the current record's line, off the offset
	// after it; line is its 1-based line number.
	start, off int64
	line       int

	rec   LedgerRecord
	err   error
	stats LedgerStats
}

// NewLedgerScanner opens path, a ledger file or a directory of rotated files.
func NewLedgerScanner(path string) (*LedgerScanner, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("schema: ledger: %w", err)
	}
	files := []string{path}
	if fi.IsDir() {
		if files, err = LedgerFiles(path); err != nil {
			return nil, err
		}
	}
	return &LedgerScanner{files: files}, nil
}

// OpenLedgerFile opens one ledger file to scan from byte offset from (0, or
// an Offset given earlier, so a shipper resumes where it stopped).
func OpenLedgerFile(name string, from int64) (*LedgerScanner, error) {
	s := &LedgerScanner{files: []string{name}}
	if err := s.open(name, from); err != nil {
		return nil, err
	}
	s.fi = 1
	return s, nil
}

func (s *LedgerScanner) open(name string, from int64) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("schema: ledger: %w", err)
	}
	if from > 0 {
		if _, err := f.Seek(from, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("schema: ledger %s: seek %d: %w", name, from, err)
		}
	}
	s.f, s.name, s.start, s.off, s.line = f, name, from, from, 0
	if s.br == nil {
		s.br = bufio.NewReaderSize(f, 64<<10)
	} else {
		s.br.Reset(f)
	}
	s.stats.Files++
	return nil
}

// Scan advances to the next record; false at the end or on an error (Err).
func (s *LedgerScanner) Scan() bool {
	if s.err != nil {
		return false
	}
	for {
		if s.f == nil {
			if s.fi >= len(s.files) {
				return false
			}
			s.fi++
			if s.err = s.open(s.files[s.fi-1], 0); s.err != nil {
				return false
			}
		}
		ok, done := s.readLine()
		if ok {
			return true
		}
		if s.err != nil {
			return false
		}
		if done {
			s.f.Close()
			s.f = nil
		}
	}
}

// readLine reads one line of the current file: ok when it decoded a record,
// done at the file's end.
func (s *LedgerScanner) readLine() (ok, done bool) {
	var long []byte
	for {
		chunk, rerr := s.br.ReadSlice('\n')
		if rerr == bufio.ErrBufferFull {
			long = append(long, chunk...)
			if len(long) > MaxLedgerLine {
				s.err = fmt.Errorf("%w: %s line %d (offset %d): longer than %d bytes", ErrLedgerDamaged, s.name, s.line+1, s.off, MaxLedgerLine)
				return false, false
			}
			continue
		}
		b := chunk
		if long != nil {
			b = append(long, chunk...)
		}
		if rerr == io.EOF {
			if len(b) > 0 {
				s.stats.Torn = append(s.stats.Torn, TornLine{File: s.name, Line: s.line + 1, Bytes: len(b)})
			}
			return false, true
		}
		if rerr != nil {
			s.err = fmt.Errorf("schema: ledger %s line %d: %w", s.name, s.line+1, rerr)
			return false, false
		}
		s.line++
		s.start = s.off
		s.off += int64(len(b))
		body := bytes.TrimSpace(b)
		if len(body) == 0 {
			return false, false
		}
		var r LedgerRecord
		if err := json.Unmarshal(body, &r); err != nil {
			s.err = fmt.Errorf("%w: %s line %d (offset %d): %v", ErrLedgerDamaged, s.name, s.line, s.start, err)
			return false, false
		}
		if r.ID == "" {
			s.err = fmt.Errorf("%w: %s line %d (offset %d): record without id", ErrLedgerDamaged, s.name, s.line, s.start)
			return false, false
		}
		s.rec = r
		s.stats.add(&r)
		return true, false
	}
}

// Record returns the record the last Scan read.
func (s *LedgerScanner) Record() LedgerRecord { return s.rec }

// Offset returns the byte offset just past the last record read in its file
// (where a resumed read starts).
func (s *LedgerScanner) Offset() int64 { return s.off }

// Pos returns the file and 1-based line of the last record read, for errors
// about its content.
func (s *LedgerScanner) Pos() (file string, line int) { return s.name, s.line }

// Err returns the error that stopped the scan, nil at a clean end.
func (s *LedgerScanner) Err() error { return s.err }

// Stats returns what has been read so far: files, records, requests, torn
// lines and the time range.
func (s *LedgerScanner) Stats() LedgerStats { return s.stats }

// Close closes the open file, if any.
func (s *LedgerScanner) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}
