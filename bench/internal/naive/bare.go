package naive

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
)

// BareFile is one file for BareBulk.
type BareFile struct {
	Path, Name string
}

// BareBulk sends files in bulk creates of up to 10 with nothing around them:
// no scan, no state, no retry; a multipart body streamed from the files by a
// plain net/http client. loops bare loops (at least one) run at once, each
// taking the next batch in turn, as a client that keeps that many requests in
// flight would. It is the floor of an initial sync's upload time.
func BareBulk(ctx context.Context, hc *http.Client, base string, org, ws, task int64, token string, files []BareFile, loops int) error {
	url := fmt.Sprintf("%s/organizations/%d/workspaces/%d/tasks/%d/attachments/bulk", base, org, ws, task)
	batches := (len(files) + 9) / 10
	var next atomic.Int64
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range max(1, min(loops, batches)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				b := int(next.Add(1) - 1)
				if b >= batches {
					return
				}
				first := b * 10
				if err := bareBatch(ctx, hc, url, token, files[first:min(first+10, len(files))], int64(first)); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// bareBatch sends one bulk create.
func bareBatch(ctx context.Context, hc *http.Client, url, token string, batch []BareFile, first int64) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() { pw.CloseWithError(writeBulk(mw, batch, first)) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, pr)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("bare bulk create: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("bare bulk create: %s", resp.Status)
	}
	return nil
}

func writeBulk(mw *multipart.Writer, batch []BareFile, first int64) error {
	for j, f := range batch {
		if err := mw.WriteField("names["+strconv.Itoa(j)+"]", f.Name); err != nil {
			return err
		}
		if err := mw.WriteField("display_orders["+strconv.Itoa(j)+"]", strconv.FormatInt((first+int64(j))*1024, 10)); err != nil {
			return err
		}
		w, err := mw.CreateFormFile("files", f.Name)
		if err != nil {
			return err
		}
		r, err := os.Open(f.Path)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, r)
		r.Close()
		if err != nil {
			return err
		}
	}
	return mw.Close()
}
