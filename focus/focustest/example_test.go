package focustest_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
)

// Example starts an emulator with a small quota, uploads two files in one bulk
// create while the first attempt is made to fail, and inspects the result.
func Example() {
	srv := focustest.NewServer(focustest.Options{Token: "toggl_sk_example", Quota: 30})
	defer srv.Close()
	srv.Put(11, 22, 101, "by-hand.txt", []byte("attached in Focus"), 0)
	srv.FailNext(focus.EndpointBulk, 1, http.StatusServiceUnavailable)

	bulk := func() {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for i, name := range []string{"a.txt", "b.txt"} {
			w, _ := mw.CreateFormFile("files", name)
			fmt.Fprintf(w, "content of %s", name)
			_ = mw.WriteField(fmt.Sprintf("display_orders[%d]", i), fmt.Sprint(1024*(i+1)))
		}
		_ = mw.Close()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/organizations/11/workspaces/22/tasks/101/attachments/bulk", &body)
		req.Header.Set("Authorization", "Bearer toggl_sk_example")
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.Status, "quota left:", resp.Header.Get("X-Toggl-Quota-Remaining"))
	}
	bulk()
	bulk()

	for _, a := range srv.Attachments(101) {
		fmt.Println(a.DisplayOrder, a.Name, a.Size)
	}
	for _, r := range srv.Requests() {
		fmt.Println(r.Method, r.Endpoint, r.Status, r.Fault, r.Fields)
	}
	// Output:
	// 503 Service Unavailable quota left: 29
	// 201 Created quota left: 28
	// 0 by-hand.txt 17
	// 1024 a.txt 16
	// 2048 b.txt 16
	// POST bulk 503 fail []
	// POST bulk 201  [files display_orders[0] files display_orders[1]]
}
