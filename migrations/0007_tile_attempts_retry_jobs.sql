ALTER TABLE `scoring_jobs` ADD `mode` text DEFAULT 'score' NOT NULL;--> statement-breakpoint
ALTER TABLE `tile_scores` ADD `attempts` integer DEFAULT 1 NOT NULL;