package llm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/idp/idp/stage"
)

// ErrInvalidSchema is returned by LoadSchema and ParseSchema for a schema file that is not
// valid; the error lists every problem.
var ErrInvalidSchema = errors.New("invalid schema")

// Field types of a schema.
const (
	TypeString      = "string"
	TypeStringArray = "string[]"
	TypeNumber      = "number"
)

// How a value is looked for in the page text before it is kept (grounding).
const (
	// MatchDigits compares digits only, allowing OCR's letter-for-digit confusions: account,
	// phone and other numbers.
	MatchDigits = "digits"
	// MatchText compares words, fuzzily (an OCR error or two per word, abbreviations,
	// another order of lines): names and addresses.
	MatchText = "text"
	// MatchNone keeps the value without looking for it (a classification the model makes,
	// not a value printed on the page).
	MatchNone = "none"
)

// Schema is the set of fields an extractor reads from each page. The default is DESIGN's
// four fields; a custom one is read from a JSON file (see README, "LLM extraction").
type Schema struct {
	// Name names the schema in the structured-output request ("loan_page").
	Name   string        `json:"name"`
	Fields []SchemaField `json:"fields"`
}

// SchemaField is one field of a schema.
type SchemaField struct {
	// Name is the key of the value in a page's data: letters, digits and underscores.
	Name string `json:"name"`
	// Type is string, string[] or number.
	Type string `json:"type"`
	// Description says what the field is, for the model.
	Description string `json:"description"`
	// MaxLength bounds a string (each string of a string[]), in characters.
	MaxLength int `json:"max_length,omitempty"`
	// MaxItems bounds a string[].
	MaxItems int `json:"max_items,omitempty"`
	// Match is how a value is looked for in the page text: digits, text or none. Default:
	// digits for a number, text otherwise.
	Match string `json:"match,omitempty"`
}

// Limits of a schema file.
const (
	defaultMaxLength = 200
	defaultMaxItems  = 20
	maxSchemaFields  = 50
	maxFieldLength   = 10000
	maxFieldItems    = 100
	maxDescription   = 1000
)

var fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// DefaultSchema is DESIGN's schema: Account_Number, Account_Holders, Phone_Number, Address.
func DefaultSchema() *Schema {
	s := &Schema{Name: "loan_document_page", Fields: []SchemaField{
		{Name: stage.FieldAccountNumber, Type: TypeString, MaxLength: 40, Match: MatchDigits,
			Description: "The account or loan number printed on the page, as printed, with its dashes or spaces. " +
				"Not a routing number, transaction reference, check number or phone number."},
		{Name: stage.FieldAccountHolders, Type: TypeStringArray, MaxLength: 100, MaxItems: 10, Match: MatchText,
			Description: "Every person the page names as owner, account holder, borrower or co-borrower, one full name per entry, as printed. " +
				"Not employers, bank officers, verifiers or signers who are not owners."},
		{Name: stage.FieldPhoneNumber, Type: TypeString, MaxLength: 30, Match: MatchDigits,
			Description: "The customer's phone number, as printed. Not the bank's, a branch's, an employer's or a service line's."},
		{Name: stage.FieldAddress, Type: TypeString, MaxLength: 200, Match: MatchText,
			Description: "The customer's postal address on one line: street, city, state and ZIP code, separated by commas. " +
				"Not a property's, an employer's or the bank's address."},
	}}
	if err := s.check(); err != nil {
		panic(err) // the default schema is a constant
	}
	return s
}

// LoadSchema reads and checks a schema file.
func LoadSchema(path string) (*Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schema file: %w", err)
	}
	s, err := ParseSchema(b)
	if err != nil {
		return nil, fmt.Errorf("schema file %s: %w", path, err)
	}
	return s, nil
}

// ParseSchema reads a schema from JSON, fills in the defaults and checks it. Unknown keys
// are an error, so that a misspelt "max_lenght" does not pass silently.
func ParseSchema(b []byte) (*Schema, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Schema
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSchema, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrInvalidSchema)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// check fills in defaults and reports every problem at once.
func (s *Schema) check() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if s.Name == "" {
		s.Name = "page_fields"
	}
	if !fieldName.MatchString(s.Name) {
		bad("name %q: use letters, digits and underscores (at most 64)", s.Name)
	}
	switch {
	case len(s.Fields) == 0:
		bad("fields: none; a schema needs at least one field")
	case len(s.Fields) > maxSchemaFields:
		bad("fields: %d; at most %d", len(s.Fields), maxSchemaFields)
	}
	seen := map[string]bool{}
	for i := range s.Fields {
		f := &s.Fields[i]
		at := fmt.Sprintf("fields[%d]", i)
		if f.Name != "" {
			at += fmt.Sprintf(" (%s)", f.Name)
		}
		switch {
		case f.Name == "":
			bad("%s: name is missing", at)
		case !fieldName.MatchString(f.Name):
			bad("%s: name %q: use letters, digits and underscores, starting with a letter or underscore (at most 64)", at, f.Name)
		case seen[strings.ToLower(f.Name)]:
			bad("%s: name %q appears twice", at, f.Name)
		}
		seen[strings.ToLower(f.Name)] = true
		switch f.Type {
		case TypeString, TypeStringArray, TypeNumber:
		case "":
			bad("%s: type is missing; want string, string[] or number", at)
		default:
			bad("%s: type %q: want string, string[] or number", at, f.Type)
		}
		if strings.TrimSpace(f.Description) == "" {
			bad("%s: description is missing; the model reads it to know what the field is", at)
		} else if utf8.RuneCountInString(f.Description) > maxDescription {
			bad("%s: description has %d characters; at most %d", at, utf8.RuneCountInString(f.Description), maxDescription)
		}
		if f.MaxLength == 0 && f.Type != TypeNumber {
			f.MaxLength = defaultMaxLength
		}
		if f.MaxLength < 0 || f.MaxLength > maxFieldLength {
			bad("%s: max_length %d: want 1 to %d", at, f.MaxLength, maxFieldLength)
		}
		if f.Type == TypeNumber && f.MaxLength != 0 {
			bad("%s: max_length applies to strings, not to a number", at)
		}
		switch {
		case f.Type == TypeStringArray && f.MaxItems == 0:
			f.MaxItems = defaultMaxItems
		case f.Type != TypeStringArray && f.MaxItems != 0:
			bad("%s: max_items applies to a string[] only", at)
		}
		if f.MaxItems < 0 || f.MaxItems > maxFieldItems {
			bad("%s: max_items %d: want 1 to %d", at, f.MaxItems, maxFieldItems)
		}
		if f.Match == "" {
			f.Match = MatchText
			if f.Type == TypeNumber {
				f.Match = MatchDigits
			}
		}
		switch f.Match {
		case MatchDigits, MatchText, MatchNone:
			if f.Type == TypeNumber && f.Match == MatchText {
				bad("%s: match %q: a number is matched by its digits (digits or none)", at, f.Match)
			}
		default:
			bad("%s: match %q: want digits, text or none", at, f.Match)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidSchema, errors.Join(errs...))
	}
	return nil
}

// Field returns the field called name.
func (s *Schema) Field(name string) (SchemaField, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return SchemaField{}, false
}

// Names are the field names, in schema order.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

// Digest identifies the schema for cache versions: any change to a field (name, type,
// description, limits, matching) gives another digest.
func (s *Schema) Digest() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a Schema always marshals
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// JSONSchema is the schema as a strict JSON Schema for structured output: an object with
// every field required and no other, a field absent from the page being null. Length and
// item limits are stated in the descriptions (strict mode does not take them all) and
// checked locally on every answer.
func (s *Schema) JSONSchema() json.RawMessage {
	props := map[string]any{}
	for _, f := range s.Fields {
		var p map[string]any
		switch f.Type {
		case TypeString:
			p = map[string]any{"type": []string{"string", "null"}}
		case TypeStringArray:
			p = map[string]any{"type": []string{"array", "null"}, "items": map[string]any{"type": "string"}}
		case TypeNumber:
			p = map[string]any{"type": []string{"number", "null"}}
		}
		p["description"] = f.Description + limitsNote(f)
		props[f.Name] = p
	}
	b, err := json.Marshal(map[string]any{
		"type":                 "object",
		"properties":           props,
		"required":             s.Names(),
		"additionalProperties": false,
	})
	if err != nil {
		panic(err)
	}
	return b
}

func limitsNote(f SchemaField) string {
	switch f.Type {
	case TypeString:
		return fmt.Sprintf(" At most %d characters; null when not on the page.", f.MaxLength)
	case TypeStringArray:
		return fmt.Sprintf(" At most %d entries of at most %d characters each; null when none is on the page.", f.MaxItems, f.MaxLength)
	default:
		return " A JSON number; null when not on the page."
	}
}

// placeholder values a model writes for "not on the page"; they mean absent.
var placeholder = regexp.MustCompile(`(?i)^(?:n/?a|none|null|nil|unknown|not (?:found|available|present|provided|applicable|printed|on (?:the|this) page)|-+|\?+)$`)

// Normalize checks a model's answer against the schema and returns the values it holds,
// normalised: whitespace collapsed, empty and placeholder values ("N/A", "null") absent,
// duplicate list entries removed. It fails, listing every problem, when the answer has a
// field the schema lacks, a value of the wrong type, or one over its length or item limit.
// The answer must have been decoded with json.Decoder.UseNumber.
func (s *Schema) Normalize(answer map[string]any) (stage.Fields, error) {
	var problems []string
	out := stage.Fields{}
	for k := range answer {
		if _, ok := s.Field(k); !ok {
			problems = append(problems, fmt.Sprintf("unexpected field %q", truncate(k, 40)))
		}
	}
	for _, f := range s.Fields {
		v, ok := answer[f.Name]
		if !ok || v == nil {
			continue
		}
		val, err := normalizeValue(f, v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f.Name, err))
			continue
		}
		if val != nil {
			out[f.Name] = val
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("%w: %s", ErrInvalidAnswer, strings.Join(problems, "; "))
	}
	return out, nil
}

// normalizeValue returns the normalised value of one field, nil when it means absent.
func normalizeValue(f SchemaField, v any) (any, error) {
	switch f.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string or null, got %s", jsonKind(v))
		}
		return normalizeString(s, f.MaxLength)
	case TypeStringArray:
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("want an array of strings or null, got %s", jsonKind(v))
		}
		var out []string
		seen := map[string]bool{}
		for i, e := range list {
			if e == nil {
				continue
			}
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("entry %d: want a string, got %s", i, jsonKind(e))
			}
			n, err := normalizeString(s, f.MaxLength)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", i, err)
			}
			if n == nil {
				continue
			}
			key := strings.ToLower(strings.Join(wordsOf(n.(string)), " "))
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, n.(string))
		}
		if len(out) > f.MaxItems {
			return nil, fmt.Errorf("%d entries; at most %d", len(out), f.MaxItems)
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	case TypeNumber:
		switch n := v.(type) {
		case json.Number:
			x, err := n.Float64()
			if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
				return nil, fmt.Errorf("number %q out of range", truncate(n.String(), 30))
			}
			return x, nil
		case float64:
			return n, nil
		case string:
			// "1,234.50" or "$1,234.50": a number written as text.
			t := strings.NewReplacer(",", "", "$", "", " ", "").Replace(strings.TrimSpace(n))
			if t == "" || placeholder.MatchString(t) {
				return nil, nil
			}
			x, err := strconv.ParseFloat(t, 64)
			if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
				return nil, fmt.Errorf("want a number or null, got a string that is not a number")
			}
			return x, nil
		default:
			return nil, fmt.Errorf("want a number or null, got %s", jsonKind(v))
		}
	}
	return nil, fmt.Errorf("unknown type %q", f.Type)
}

func normalizeString(s string, maxLen int) (any, error) {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" || placeholder.MatchString(s) {
		return nil, nil
	}
	if n := utf8.RuneCountInString(s); n > maxLen {
		return nil, fmt.Errorf("%d characters; at most %d", n, maxLen)
	}
	return s, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
