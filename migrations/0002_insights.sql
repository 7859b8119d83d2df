CREATE TABLE `insight_records` (
	`run_id` integer NOT NULL,
	`kind` text NOT NULL,
	`record` text NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	PRIMARY KEY(`run_id`, `kind`),
	FOREIGN KEY (`run_id`) REFERENCES `analysis_runs`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "insight_records_kind_check" CHECK("insight_records"."kind" in ('evidence', 'label_errors', 'confidence', 'families'))
);
--> statement-breakpoint
CREATE TABLE `label_error_scores` (
	`run_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`score` real NOT NULL,
	`rank` integer NOT NULL,
	`disagreement` real NOT NULL,
	`neighbour_gap` real NOT NULL,
	`direction` text NOT NULL,
	PRIMARY KEY(`run_id`, `idx`),
	FOREIGN KEY (`run_id`) REFERENCES `analysis_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `label_error_scores_rank_idx` ON `label_error_scores` (`run_id`,`rank`);--> statement-breakpoint
CREATE TABLE `patch_evidence` (
	`run_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`prob_inside` real,
	`prob_outside` real,
	`boundary_iou` real,
	PRIMARY KEY(`run_id`, `idx`),
	FOREIGN KEY (`run_id`) REFERENCES `analysis_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `patch_intervals` (
	`run_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`iou_low` real NOT NULL,
	`iou_high` real NOT NULL,
	PRIMARY KEY(`run_id`, `idx`),
	FOREIGN KEY (`run_id`) REFERENCES `analysis_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `review_marks` (
	`run_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`mark` text NOT NULL,
	`note` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	PRIMARY KEY(`run_id`, `idx`),
	FOREIGN KEY (`run_id`) REFERENCES `analysis_runs`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "review_marks_mark_check" CHECK("review_marks"."mark" in ('label_wrong', 'model_wrong', 'unsure'))
);
--> statement-breakpoint
ALTER TABLE `tile_scores` ADD `iou_low` real;--> statement-breakpoint
ALTER TABLE `tile_scores` ADD `iou_high` real;