//! Consul aws-iam auth method: SigV4-signed bearer token, login and logout.
