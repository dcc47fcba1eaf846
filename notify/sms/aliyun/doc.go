// Package aliyun sends SMS through Alibaba Cloud Short Message Service
// (Dysmsapi 2017-05-25, SendSms), signing requests with ACS3-HMAC-SHA256.
//
// Documents followed:
//   - V3 request syntax and signature method ("V3版本请求体&签名机制"):
//     https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature
//     (help.aliyun.com/document_detail/2593177.html)
//   - SendSms API reference:
//     https://help.aliyun.com/en/sms/developer-reference/api-dysmsapi-2017-05-25-sendsms
//     (help.aliyun.com/document_detail/55284.html). Its metadata places every
//     parameter "in": "query" on a POST with an empty body, which is also what
//     the official SDK (alibabacloud dysmsapi-20170525, sendSmsWithOptions) sends.
//   - SMS API error codes ("API错误码"): https://help.aliyun.com/document_detail/101346.html
package aliyun
