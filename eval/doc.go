// Package eval scores results against ground truth: per-field precision, recall and F1
// (values compared as the README's "Result format" says), the page -> account accuracy,
// and the rate of exactly right account sets. `idp eval` and the accuracy tests print it.
//
// It imports nothing of idp but stage.
package eval
