// The Alerts gRPC service (proto/cit/v1/dispatch.proto): WatchAlerts, ListAlerts,
// ListAlertEvents, AckAlert, ResolveAlert over the AlertManager.
//
//   AlertsService alerts_api(&alert_manager);
//   builder.AddOperatorService(&alerts_api);
//
// WatchAlerts is a callback-API server stream: a reactor per watcher holds a cursor (the stream
// position of the last event it examined) and pulls the next matching events from the manager
// whenever a write completes or the manager announces a new event, one write in flight at a
// time. Every event sent carries its resume_token (alerts/watch_cursor.h). Resume: a
// resume_token delivers every later event exactly once on any instance (the stored ones after
// it in commit order, read from the store, then this instance's unstored ones, then live);
// after_event_id > 0 every event after it in this instance's stream (older than memory holds:
// read back from the store); neither first replays the currently unresolved alerts, then
// follows live.
// EndStreams() (at shutdown, once everything received is stored) finishes every open watch with
// UNAVAILABLE at once, so watchers resume elsewhere instead of waiting out the shutdown grace;
// a watch opened after it is refused the same way.
// The other RPCs are sync-API handlers (they write SQLite).
//
// Thread contract: thread-safe.
#ifndef CIT_DISPATCH_SERVER_API_ALERTS_SERVICE_H_
#define CIT_DISPATCH_SERVER_API_ALERTS_SERVICE_H_

#include <atomic>
#include <mutex>
#include <set>

#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/alerts/alert_manager.h"

namespace cit::dispatch {

class AlertsService final
    : public cit::v1::Alerts::WithCallbackMethod_WatchAlerts<cit::v1::Alerts::Service> {
 public:
  explicit AlertsService(AlertManager* alerts) : alerts_(alerts) {}

  grpc::ServerWriteReactor<cit::v1::AlertEvent>* WatchAlerts(
      grpc::CallbackServerContext* ctx, const cit::v1::WatchAlertsRequest* req) override;
  grpc::Status ListAlerts(grpc::ServerContext* ctx, const cit::v1::ListAlertsRequest* req,
                          cit::v1::ListAlertsResponse* resp) override;
  grpc::Status ListAlertEvents(grpc::ServerContext* ctx, const cit::v1::ListAlertEventsRequest* req,
                               cit::v1::ListAlertEventsResponse* resp) override;
  grpc::Status AckAlert(grpc::ServerContext* ctx, const cit::v1::AckAlertRequest* req,
                        cit::v1::Alert* resp) override;
  grpc::Status ResolveAlert(grpc::ServerContext* ctx, const cit::v1::ResolveAlertRequest* req,
                            cit::v1::Alert* resp) override;

  // Watch streams currently open.
  int watchers() const { return watchers_.load(); }

  // Ends every open watch (and every later one) with UNAVAILABLE; idempotent.
  void EndStreams();

 private:
  class WatchReactor;
  // Registers a new watch; false when the streams are ending (the watch must finish at once).
  bool Enter(WatchReactor* watch);
  void Leave(WatchReactor* watch);

  AlertManager* alerts_;
  std::atomic<int> watchers_{0};
  std::mutex open_mu_;
  std::set<WatchReactor*> open_;  // guarded by open_mu_
  bool ending_ = false;           // guarded by open_mu_
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_API_ALERTS_SERVICE_H_
