// A run without its bulk, as ListRuns returns it by default (RUN_VIEW_SUMMARY): the route keeps
// only its corridor half-width, stops lose their polygons; every other field is whole. A plan's
// route text may be megabytes: two of them once made `dispatchctl plan list` exceed the
// client's 4 MiB message limit for everyone.
//
//   cit::v1::Run s = RunSummary(run);   // s.plan().route().points_size() == 0
//
// Thread contract: pure function.
#ifndef CIT_DISPATCH_SERVER_PLANS_RUN_SUMMARY_H_
#define CIT_DISPATCH_SERVER_PLANS_RUN_SUMMARY_H_

#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

// Copies only what the summary keeps (never the route text or polygons, then discards them).
cit::v1::Run RunSummary(const cit::v1::Run& run);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_PLANS_RUN_SUMMARY_H_
