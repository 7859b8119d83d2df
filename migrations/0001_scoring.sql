CREATE TABLE `imagery_sources` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`spec` text NOT NULL,
	`attribution` text,
	`bounds` text,
	`min_zoom` integer NOT NULL,
	`max_zoom` integer NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	CONSTRAINT "imagery_sources_kind_check" CHECK("imagery_sources"."kind" in ('pmtiles', 'xyz', 'geotiff'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `imagery_sources_name_unique` ON `imagery_sources` (`name`);--> statement-breakpoint
CREATE TABLE `projects` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`zoom` integer NOT NULL,
	`imagery_id` integer NOT NULL,
	`run_id` integer NOT NULL,
	`model_id` integer NOT NULL,
	`area` text NOT NULL,
	`area_km2` real NOT NULL,
	`tile_count` integer NOT NULL,
	`bbox` text NOT NULL,
	`look_for` text NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`imagery_id`) REFERENCES `imagery_sources`(`id`) ON UPDATE no action ON DELETE restrict,
	FOREIGN KEY (`run_id`) REFERENCES `analysis_runs`(`id`) ON UPDATE no action ON DELETE restrict,
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `projects_run_idx` ON `projects` (`run_id`);--> statement-breakpoint
CREATE TABLE `scoring_jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`project_id` integer NOT NULL,
	`status` text NOT NULL,
	`done` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`total` integer NOT NULL,
	`error` text,
	`batch_size` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`updated_at` integer NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "scoring_jobs_status_check" CHECK("scoring_jobs"."status" in ('queued', 'running', 'cancelled', 'done', 'failed'))
);
--> statement-breakpoint
CREATE INDEX `scoring_jobs_project_idx` ON `scoring_jobs` (`project_id`,`id`);--> statement-breakpoint
CREATE INDEX `scoring_jobs_status_idx` ON `scoring_jobs` (`status`);--> statement-breakpoint
CREATE TABLE `tile_scores` (
	`project_id` integer NOT NULL,
	`z` integer NOT NULL,
	`x` integer NOT NULL,
	`y` integer NOT NULL,
	`task_id` text NOT NULL,
	`quadkey` text NOT NULL,
	`status` text NOT NULL,
	`error` text,
	`building_prob` real,
	`pred_fraction` real,
	`iou_hat` real,
	`urban_distance` real,
	`urban_distance_scaled` real,
	`novelty` real,
	`priority` real NOT NULL,
	`tier` text NOT NULL,
	`pcs` text,
	`footprints` text,
	`job_id` integer NOT NULL,
	`run_id` integer NOT NULL,
	`model_id` integer NOT NULL,
	`scored_at` integer NOT NULL,
	PRIMARY KEY(`project_id`, `z`, `x`, `y`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "tile_scores_status_check" CHECK("tile_scores"."status" in ('scored', 'missing', 'undecodable', 'failed')),
	CONSTRAINT "tile_scores_tier_check" CHECK("tile_scores"."tier" in ('high', 'medium', 'low', 'skip'))
);
--> statement-breakpoint
CREATE INDEX `tile_scores_project_priority_idx` ON `tile_scores` (`project_id`,`priority`);