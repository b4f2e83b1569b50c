// cnirunner drives a CNI network list through libcni exactly as containerd, CRI-O and podman do:
// results of ADD are cached under a cache directory and fed back as prevResult on CHECK and DEL.
//
//	cnirunner add|check|del CONFLIST_FILE CONTAINER_ID NETNS IFNAME [--args 'K=V;K=V'] [--cap JSON]
//	cnirunner cached CONFLIST_FILE CONTAINER_ID NETNS IFNAME   # prints the cached result
//	cnirunner version CONFLIST_FILE                             # VERSION of every plugin in the list
//
// Plugins are looked up in $CNI_PATH (colon-separated). The cache directory is $CNI_CACHE_DIR, else
// /var/lib/cni (libcni's default). ADD prints the result as JSON on stdout; errors go to stderr with
// exit status 1 (and the CNI error code on the last line as "code=N" when the plugin sent one).
//
// Build offline: GO111MODULE=off GOPATH=/usr/share/gocode go build -o cnirunner .
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: cnirunner add|check|del|cached CONFLIST CONTAINER_ID NETNS IFNAME [--args K=V;..] [--cap JSON]")
	fmt.Fprintln(os.Stderr, "       cnirunner version CONFLIST")
	os.Exit(2)
}

func parseArgs(s string) ([][2]string, error) {
	var out [][2]string
	for _, kv := range strings.Split(s, ";") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("bad --args item %q (want K=V)", kv)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "cnirunner: %v\n", err)
	var cniErr *types.Error
	if errors.As(err, &cniErr) {
		fmt.Fprintf(os.Stderr, "code=%d\n", cniErr.Code)
	}
	os.Exit(1)
}

func main() {
	if len(os.Args) < 3 {
		usage()
	}
	verb, confFile := os.Args[1], os.Args[2]
	list, err := libcni.ConfListFromFile(confFile)
	if err != nil {
		fail(fmt.Errorf("loading %s: %w", confFile, err))
	}
	cacheDir := os.Getenv("CNI_CACHE_DIR")
	if cacheDir == "" {
		cacheDir = "/var/lib/cni"
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), cacheDir, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	if verb == "version" {
		for _, p := range list.Plugins {
			info, err := cni.GetVersionInfo(ctx, p.Network.Type)
			if err != nil {
				fail(fmt.Errorf("VERSION %s: %w", p.Network.Type, err))
			}
			fmt.Printf("%s %s\n", p.Network.Type, strings.Join(info.SupportedVersions(), ","))
		}
		return
	}
	if len(os.Args) < 6 {
		usage()
	}
	rt := &libcni.RuntimeConf{ContainerID: os.Args[3], NetNS: os.Args[4], IfName: os.Args[5]}
	rest := os.Args[6:]
	for i := 0; i < len(rest); i++ {
		if i+1 >= len(rest) {
			usage()
		}
		switch rest[i] {
		case "--args":
			if rt.Args, err = parseArgs(rest[i+1]); err != nil {
				fail(err)
			}
		case "--cap":
			if err := json.Unmarshal([]byte(rest[i+1]), &rt.CapabilityArgs); err != nil {
				fail(fmt.Errorf("--cap: %w", err))
			}
		default:
			usage()
		}
		i++
	}

	switch verb {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(fmt.Errorf("ADD: %w", err))
		}
		if err := res.Print(); err != nil {
			fail(err)
		}
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail(fmt.Errorf("CHECK: %w", err))
		}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail(fmt.Errorf("DEL: %w", err))
		}
	case "cached":
		res, err := cni.GetNetworkListCachedResult(list, rt)
		if err != nil {
			fail(err)
		}
		if res == nil {
			fmt.Println("null")
			return
		}
		if err := res.Print(); err != nil {
			fail(err)
		}
	default:
		usage()
	}
}
