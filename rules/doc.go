// Package rules is the built-in, rule-based engine of stages 2 to 4: the Splitter finds the
// accounts and maps pages to them, the Extractor reads the default schema's fields from a
// page's layout text. It needs no network and no model, and is the fallback when a model
// fails. Version names the rules for the cache versions.
//
// It imports nothing of idp but stage.
package rules
