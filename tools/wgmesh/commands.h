// Every `wgmesh` subcommand: args are what follows the subcommand's name. Each returns the
// process exit code; UsageError and other exceptions are reported by main().
#pragma once

#include <span>
#include <string>

namespace wgmesh::cli {

using Args = std::span<const std::string>;

int run_join(Args args);     // cmd_join.cc
int run_derive(Args args);   // cmd_derive.cc
int run_genkey(Args args);   // cmd_keys.cc
int run_pubkey(Args args);   // cmd_keys.cc
int run_status(Args args);   // cmd_control.cc
int run_peers(Args args);    // cmd_control.cc
int run_peer(Args args);     // cmd_control.cc
int run_cache(Args args);    // cmd_cache.cc
int run_routes(Args args);   // cmd_routes.cc
int run_cleanup(Args args);  // cmd_cleanup.cc
int run_service(Args args);  // cmd_service.cc
int run_metrics(Args args);  // cmd_metrics.cc

// Dispatches argv (without the program name); what main() calls, and tests too.
int run_wgmesh(Args args);

}  // namespace wgmesh::cli
