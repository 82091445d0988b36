package media

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"
)

// OpenDir opens a store in a local directory (dev mode), creating it if needed.
func OpenDir(dir string) (*Store, error) {
	b, err := fileblob.OpenBucket(dir, &fileblob.Options{CreateDir: true, NoTempDir: true})
	if err != nil {
		return nil, fmt.Errorf("media: open directory %s: %w", dir, err)
	}
	return NewStore(b), nil
}

// S3Config locates an S3-compatible bucket. The keys come from the Inbox's Secret and
// are never logged (String and LogValue redact them).
type S3Config struct {
	Bucket          string // required
	Endpoint        string // e.g. "https://s3.eu-west-1.amazonaws.com" or a MinIO/Ceph URL; default AWS
	Region          string // default "us-east-1"
	PathStyle       bool   // bucket in the path, as most S3-compatible servers need
	AccessKeyID     string
	SecretAccessKey string
}

// String describes c without its secret.
func (c S3Config) String() string {
	return fmt.Sprintf("media.S3Config{Bucket:%q Endpoint:%q Region:%q PathStyle:%t AccessKeyID:%q SecretAccessKey:<redacted>}",
		c.Bucket, c.Endpoint, c.Region, c.PathStyle, c.AccessKeyID)
}

// LogValue keeps the secret out of slog output.
func (c S3Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// OpenS3 opens a store in an S3-compatible bucket with static credentials.
func OpenS3(ctx context.Context, c S3Config) (*Store, error) {
	if c.Bucket == "" {
		return nil, fmt.Errorf("media: S3 bucket name is required")
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return nil, fmt.Errorf("media: S3 access key ID and secret access key go together")
	}
	b, err := s3blob.OpenBucket(ctx, s3.New(s3Options(c)), c.Bucket, nil)
	if err != nil {
		return nil, fmt.Errorf("media: open bucket %s: %w", c.Bucket, err)
	}
	return NewStore(b), nil
}

func s3Options(c S3Config) s3.Options {
	o := s3.Options{Region: c.Region, UsePathStyle: c.PathStyle}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if c.Endpoint != "" {
		o.BaseEndpoint = aws.String(c.Endpoint)
	}
	if c.AccessKeyID != "" {
		o.Credentials = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")
	}
	return o
}
