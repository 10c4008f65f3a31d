package rules

import "testing"

func TestPhoneAfterOCR(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"a plus read as 4", layout([]string{"Daytime Phone", "41 223 377 6232"}), "+1 223 377 6232"},
		{"a plus read as 4, with dashes", layout([]string{"Home Phone:", "41-876-389-5769"}), "+1-876-389-5769"},
		{"a plus with a 4 beside it", layout([]string{"TEL.", "TEL."}) + "\n" + layout([]string{"+41 353 267 1212", "(319) 847-4583"}), "+1 353 267 1212"},
		{"a 4 before the plus", layout([]string{"MOBILE", "MOBILE"}) + "\n" + layout([]string{"4+1-429-431-7106", "1 (529) 860-4497"}), "+1-429-431-7106"},
		{"a colon after the home phone", layout([]string{"Home Phone", "Cell Phone", "Work Phone", "Ext."}) + "\n" + layout([]string{"649-663-4463:", "484-707-9408", "345"}), "649-663-4463"},
		{"twelve digits that do not start 41 are no phone", layout([]string{"Home Phone:", "42-876-389-5769"}), ""},
		{"the home phone unreadable: not the fax under its own label",
			layout([]string{"Home Phone", "Fax"}) + "\n" + layout([]string{"41-876-389-576", "(655) 879-6834"}), ""},
		{"the home phone unreadable: the work phone, as a second choice",
			layout([]string{"Home Phone", "Work Phone"}) + "\n" + layout([]string{"41-876-389-576", "(655) 879-6834"}), "(655) 879-6834"},
		{"the home phone under its label", layout([]string{"Home Phone", "Work Phone"}) + "\n" + layout([]string{"(613) 338-7829", "(655) 879-6834"}), "(613) 338-7829"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, _ := findPhone(newPage(tt.text))
			if got != tt.want {
				t.Errorf("phone = %q, want %q", got, tt.want)
			}
		})
	}
}
