package mask

import "testing"

func TestMask(t *testing.T) {
	cases := map[string]string{
		Phone("+8613812345678"):    "+86138****5678",
		Phone("13812345678"):       "138****5678",
		Phone("+14155550123"):      "+14155****0123",
		Phone("12345"):             "*****",
		Email("alice@example.com"): "a***@example.com",
		Email("bad"):               "***",
		Contact("bob@x.cn"):        "b***@x.cn",
		Contact("+8613900001111"):  "+86139****1111",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
