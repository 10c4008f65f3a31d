package rules

// Version names the rules (every source file of this package but this one and doc.go): the
// account splitter and the built-in extractor. Bump it with any change to what they
// produce; TestRulesVersion fails until it is bumped after those files change.
const Version = "rules/9"
