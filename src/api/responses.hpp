// api/responses.hpp — JSON responses and the one mapping from error codes to HTTP statuses.
#pragma once

#include <nlohmann/json.hpp>

#include "api/http_server.hpp"
#include "core/result.hpp"

namespace tocsin::api {

Response JsonResponse(int status, const nlohmann::json& body);
// {"error": {"code", "message", "hint", "field"?}}. Status from the code unless given.
Response ErrorResponse(const Error& error, int status = 0);
int StatusForCode(const std::string& code);

}  // namespace tocsin::api
