// Package citations holds a test, and nothing else: every tracked text file of
// the repository may cite only files in the repository or public URLs. A
// path to a private note (the research notes, the design notes, an absolute
// path on a developer's machine) or a Markdown link to a file the repository lacks
// fails it, so README.md, docs/, code comments, reports/prices.yaml and the
// generated reports' templates stay readable by anyone with a clone.
package citations
