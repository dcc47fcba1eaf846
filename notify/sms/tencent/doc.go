// Package tencent sends SMS through Tencent Cloud SMS (API 2021-01-11,
// SendSms), signing requests with TC3-HMAC-SHA256.
//
// Documents followed:
//   - "Signature v3" of TencentCloud API 3.0 (the same page in every
//     product's API docs, e.g. https://tencentcloud.com/document/api/1150/49447),
//     including its worked DescribeInstances example, reproduced in sign_test.go.
//   - SMS "Common Params" (X-TC-Action, X-TC-Region, X-TC-Timestamp,
//     X-TC-Version, Authorization): https://www.tencentcloud.com/document/product/382/40466
//   - SendSms 2021-01-11: https://www.tencentcloud.com/document/api/382/40536 and
//     the SendStatus data type (Code "Ok" on success, SerialNo, SessionContext).
//   - Common error codes (Response.Error): AuthFailure.*, InternalError,
//     RequestLimitExceeded, …, e.g. https://tencentcloud.com/document/product/1209/56023,
//     and the SMS codes in the SendSms reference (LimitExceeded.*,
//     FailedOperation.*, InvalidParameterValue.*).
package tencent
