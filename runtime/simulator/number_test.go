package simulator

import "testing"

// TestCountryFields: country_code and country_dial_code come from the display number.
func TestCountryFields(t *testing.T) {
	for display, want := range map[string][2]string{
		"+34 600 000 000": {"ES", "34"}, "+44 7700 900000": {"GB", "44"}, "+351 910 000 000": {"PT", "351"},
		"+1 555-078-3881": {"US", "1"}, "+1 416 555 0100": {"CA", "1"},
	} {
		region, dial := Number{DisplayPhoneNumber: display}.country()
		if region != want[0] || dial != want[1] {
			t.Errorf("%s: got %s %s, want %s %s", display, region, dial, want[0], want[1])
		}
	}
}
