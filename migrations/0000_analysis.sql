CREATE TABLE `analysis_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`model_id` integer NOT NULL,
	`dataset_id` integer NOT NULL,
	`status` text DEFAULT 'complete' NOT NULL,
	`settings` text NOT NULL,
	`pca` text NOT NULL,
	`estimator` text NOT NULL,
	`kmeans` text NOT NULL,
	`dbscan` text,
	`urbanised` text NOT NULL,
	`novelty` text,
	`activations_path` text,
	`activation_dtype` text NOT NULL,
	`dims` integer NOT NULL,
	`patch_count` integer NOT NULL,
	`empty_count` integer NOT NULL,
	`model_iou_pooled` real,
	`model_iou_mean` real,
	`timings` text NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE restrict,
	FOREIGN KEY (`dataset_id`) REFERENCES `datasets`(`id`) ON UPDATE no action ON DELETE restrict,
	CONSTRAINT "analysis_runs_status_check" CHECK("analysis_runs"."status" in ('complete')),
	CONSTRAINT "analysis_runs_activation_dtype_check" CHECK("analysis_runs"."activation_dtype" in ('float32', 'float16'))
);
--> statement-breakpoint
CREATE INDEX `analysis_runs_model_dataset_idx` ON `analysis_runs` (`model_id`,`dataset_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `clusters` (
	`run_id` integer NOT NULL,
	`cluster` integer NOT NULL,
	`size` integer NOT NULL,
	`mean_iou` real,
	`median_iou` real,
	`mean_gt_fraction` real NOT NULL,
	`urbanised` integer NOT NULL,
	`representatives` text NOT NULL,
	`centroid` text NOT NULL,
	PRIMARY KEY(`run_id`, `cluster`),
	FOREIGN KEY (`run_id`) REFERENCES `analysis_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `datasets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`source` text NOT NULL,
	`patch_count` integer NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	CONSTRAINT "datasets_kind_check" CHECK("datasets"."kind" in ('demo_world', 'folder', 'manifest', 'geotiff', 'footprints'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `datasets_name_unique` ON `datasets` (`name`);--> statement-breakpoint
CREATE TABLE `models` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`runtime` text NOT NULL,
	`path` text NOT NULL,
	`sha256` text NOT NULL,
	`input_size` integer NOT NULL,
	`layer` text NOT NULL,
	`sidecar` text NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	CONSTRAINT "models_runtime_check" CHECK("models"."runtime" in ('onnx', 'tfjs'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `models_name_sha256_unique` ON `models` (`name`,`sha256`);--> statement-breakpoint
CREATE TABLE `patches` (
	`run_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`patch_key` text NOT NULL,
	`group_name` text,
	`split` text NOT NULL,
	`estimator_holdout` integer,
	`z` integer,
	`x` integer,
	`y` integer,
	`lon` real,
	`lat` real,
	`image_ref` text NOT NULL,
	`tp` integer NOT NULL,
	`fp` integer NOT NULL,
	`fn` integer NOT NULL,
	`tn` integer NOT NULL,
	`iou` real,
	`dice` real,
	`precision` real,
	`recall` real,
	`gt_fraction` real NOT NULL,
	`pred_fraction` real NOT NULL,
	`empty` integer NOT NULL,
	`pc1` real,
	`pc2` real,
	`pc3` real,
	`pc4` real,
	`pc5` real,
	`pc6` real,
	`pc7` real,
	`pc8` real,
	`pc9` real,
	`cluster` integer,
	`dbscan_cluster` integer,
	`iou_hat` real,
	`novelty` real,
	`phenomena` text,
	PRIMARY KEY(`run_id`, `idx`),
	FOREIGN KEY (`run_id`) REFERENCES `analysis_runs`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "patches_counts_check" CHECK("patches"."tp" >= 0 and "patches"."fp" >= 0 and "patches"."fn" >= 0 and "patches"."tn" >= 0)
);
--> statement-breakpoint
CREATE INDEX `patches_run_cluster_idx` ON `patches` (`run_id`,`cluster`);--> statement-breakpoint
CREATE INDEX `patches_run_patch_key_idx` ON `patches` (`run_id`,`patch_key`);