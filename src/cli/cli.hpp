// cli/cli.hpp — the `tocsin` command line (SPEC §6).
//
// Subcommands: serve, mattermost test, token create, config show, config docs, version.
// Exit codes: 0 success; 1 the operation failed (e.g. Test Connection not ok); 2 usage or
// configuration error. Every failure prints one line saying what is wrong and what to do.
#pragma once

namespace tocsin::cli {

int Main(int argc, char** argv);

}  // namespace tocsin::cli
