#include "dispatch-server/auth/roles.h"

#include <utility>

namespace cit::dispatch {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kOperator:
      return "operator";
    case Role::kDispatcher:
      return "dispatcher";
    case Role::kAuditor:
      return "auditor";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kOperator, Role::kDispatcher, Role::kAuditor, Role::kAdmin}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

PermissionTable PermissionTable::Default() {
  using R = Role;
  PermissionTable t;
  const auto any = {R::kOperator, R::kDispatcher, R::kAuditor, R::kAdmin};
  // Dispatch: plan changes are the dispatcher's; reading is for everyone.
  for (const char* m : {"CreateRun", "UpdateRun", "DispatchRun", "AbortRun", "CompleteRun"}) {
    t.Allow(std::string("/cit.v1.Dispatch/") + m, {R::kDispatcher, R::kAdmin});
  }
  for (const char* m : {"GetRun", "GetRunHistory", "ListRuns", "GetFleet", "WatchFleet"}) {
    t.Allow(std::string("/cit.v1.Dispatch/") + m, any);
  }
  // Alerts: everyone watches; auditors only read.
  t.Allow("/cit.v1.Alerts/WatchAlerts", any);
  t.Allow("/cit.v1.Alerts/ListAlerts", any);
  t.Allow("/cit.v1.Alerts/ListAlertEvents", any);
  t.Allow("/cit.v1.Alerts/AckAlert", {R::kOperator, R::kDispatcher, R::kAdmin});
  t.Allow("/cit.v1.Alerts/ResolveAlert", {R::kOperator, R::kDispatcher, R::kAdmin});
  // Audit: auditors and admins; dispatchers may read reports too.
  for (const char* m : {"GetRunReport", "ExportRun", "VerifyChain", "GetTrack", "GetCheckpoint",
                        "ListCheckpoints", "StreamExport", "StreamTrack", "GetPeriodReport"}) {
    t.Allow(std::string("/cit.v1.Audit/") + m, {R::kAuditor, R::kAdmin, R::kDispatcher});
  }
  // The identity log (who had which role when): auditors and admins only.
  t.Allow("/cit.v1.Audit/ListIdentityEvents", {R::kAuditor, R::kAdmin});
  // Plan check evaluates and stores nothing: for those who plan runs and those who audit them.
  t.Allow("/cit.v1.Plans/CheckPlan", {R::kDispatcher, R::kAuditor, R::kAdmin});
  // Liveness probes carry no token.
  t.MakePublic("/grpc.health.v1.Health/Check");
  t.MakePublic("/grpc.health.v1.Health/Watch");
  return t;
}

void PermissionTable::Allow(std::string full_method, std::initializer_list<Role> roles) {
  allowed_[std::move(full_method)].insert(roles.begin(), roles.end());
}

void PermissionTable::MakePublic(std::string full_method) {
  public_.insert(std::move(full_method));
}

bool PermissionTable::IsPublic(std::string_view full_method) const {
  return public_.find(full_method) != public_.end();
}

bool PermissionTable::Allows(std::string_view full_method, Role role) const {
  if (IsPublic(full_method)) return true;
  auto it = allowed_.find(full_method);
  if (it == allowed_.end()) return role == Role::kAdmin;
  return it->second.count(role) > 0;
}

}  // namespace cit::dispatch
