// Package buildoutputs holds a test, and nothing else: no build output is
// committed. Every tracked file is read; an executable or object file (ELF,
// Mach-O, PE, a Go archive) or a file over MaxBytes fails the test, naming
// the file, and so does a file that .gitignore should have kept out (a
// compiled gwlab or gatewayd binary anywhere in the tree).
package buildoutputs
