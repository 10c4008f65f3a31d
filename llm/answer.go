package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var fence = regexp.MustCompile("(?s)```[A-Za-z]*[ \t]*\r?\n?(.*?)```")

// maxAnswerBytes bounds an answer that is read.
const maxAnswerBytes = 64 << 10

// decodeAnswer reads a JSON object from a model's answer: the whole answer, else a fenced
// block, else the first balanced {...} in the text ("Here is the JSON: {...}").
func decodeAnswer(content string) (map[string]any, error) {
	content = strings.TrimSpace(strings.TrimPrefix(content, "\ufeff"))
	if content == "" {
		return nil, fmt.Errorf("%w: the answer is empty", ErrInvalidAnswer)
	}
	if len(content) > maxAnswerBytes {
		return nil, fmt.Errorf("%w: the answer is %d bytes long", ErrInvalidAnswer, len(content))
	}
	obj, firstErr := decodeObject(content)
	if firstErr == nil {
		return obj, nil
	}
	for _, m := range fence.FindAllStringSubmatch(content, 4) {
		if obj, err := decodeObject(strings.TrimSpace(m[1])); err == nil {
			return obj, nil
		}
	}
	for from, tries := 0, 0; tries < 8; tries++ {
		i := strings.IndexByte(content[from:], '{')
		if i < 0 {
			break
		}
		start := from + i
		if end := matchingBrace(content, start); end > start {
			if obj, err := decodeObject(content[start : end+1]); err == nil {
				return obj, nil
			}
		}
		from = start + 1
	}
	return nil, fmt.Errorf("%w: no JSON object in the answer (%v)", ErrInvalidAnswer, firstErr)
}

func decodeObject(s string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("text after the JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the answer is %s, not a JSON object", jsonKind(v))
	}
	return obj, nil
}

// matchingBrace returns the index of the } that closes the { at start, skipping strings;
// -1 when there is none.
func matchingBrace(s string, start int) int {
	depth, inStr, esc := 0, false, false
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
